"""Reads for the import pages: a legacy file's columns before it is mapped, and how far a batch has got."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

from core.errors import ApplicationError
from imports.mapping import ColumnMapping
from imports.models import FINISHED_STATUSES, ImportBatch, ImportProgress
from imports.reader import Deadline, open_source
from imports.registry import KINDS


@dataclass(frozen=True)
class FileColumns:
    """A legacy file's header line as the reader sees it, and the field each header would feed as things stand."""

    headers: list[str]
    matched: dict[str, str]  # header -> field, from the mapping or the header being a field's name
    encoding: str
    delimiter: str


def file_columns(
    *, kind: str, source: IO[bytes], mapping: ColumnMapping, encoding: str | None, delimiter: str | None
) -> FileColumns:
    """The file's headers and their automatic match onto the kind's fields, for the admin's mapping form.

    A legacy file often matches no field before it is mapped, so the reader is asked not to refuse it; a mapping
    file naming columns the file does not have is left out (only its reading options are kept), as the form is
    where the columns get mapped. It runs in the admin's request, so it is bounded in time (IMPORT_INLINE_MAX_SECONDS).
    """
    fields = set(KINDS[kind].fields)
    deadline = Deadline.inline()
    try:
        table = open_source(source, fields=fields, mapping=mapping, encoding=encoding, delimiter=delimiter,
                            require_match=False, deadline=deadline)
    except ApplicationError:
        source.seek(0)
        options = ColumnMapping(date_order=mapping.date_order, decimal_comma=mapping.decimal_comma,
                                default_region=mapping.default_region)
        table = open_source(source, fields=fields, mapping=options, encoding=encoding, delimiter=delimiter,
                            require_match=False, deadline=deadline)
    return FileColumns(headers=list(table.headers), matched=dict(table.mapped), encoding=table.encoding,
                       delimiter=table.delimiter)


def import_batch_status(*, batch: ImportBatch) -> dict[str, Any]:
    """What the batch page's progress shows (and its JSON endpoint returns): status, rows read, counts.

    While a worker runs the batch, the rows read come from ImportProgress, which it writes outside the import's
    transaction; the batch row's own figure is written only when the import ends.
    """
    processed, estimated = batch.processed_rows, None
    is_finished = batch.status in FINISHED_STATUSES
    if not is_finished:
        progress = ImportProgress.objects.filter(batch_id=batch.pk).values_list(
            "processed_rows", "estimated_rows"
        ).first()
        if progress is not None:
            processed, estimated = progress
    return {
        "id": batch.pk,
        "status": batch.status,
        "status_display": batch.get_status_display(),
        "is_finished": is_finished,
        "processed_rows": processed,
        "total_rows": batch.total_rows,
        "estimated_rows": estimated,
        "counts": batch.counts or {},
        "failure": batch.failure,
    }
