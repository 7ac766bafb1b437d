"""Reads for the import pages: a legacy file's columns before it is mapped, and how far a batch has got."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from typing import IO, Any

import openpyxl

from core.errors import ApplicationError
from imports.mapping import ColumnMapping, header_key
from imports.models import ImportBatch, ImportProgress
from imports.reader import DELIMITERS, SAMPLE_SIZE, open_source
from imports.registry import KINDS

FINISHED = (
    ImportBatch.Status.PREVIEWED,
    ImportBatch.Status.IMPORTED,
    ImportBatch.Status.REJECTED,
    ImportBatch.Status.FAILED,
    ImportBatch.Status.ROLLED_BACK,
)


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

    The reader refuses a file none of whose headers it can match (the usual case for a legacy file and no mapping
    yet), so its headers are then read again with themselves as extra fields: the reader still decides the
    encoding, the delimiter and the header line, and the proposal keeps only the kind's real fields.
    """
    fields = set(KINDS[kind].fields)
    try:
        table = open_source(source, fields=fields, mapping=mapping, encoding=encoding, delimiter=delimiter)
    except ApplicationError:
        source.seek(0)
        # A cell spelled like a field (any case) stays that field's: the reader matches headers by header_key.
        field_keys = {header_key(field) for field in fields}
        candidates = {cell for cell in _header_candidates(source) if header_key(cell) not in field_keys}
        source.seek(0)
        # Only the mapping's reading options: its columns may name headers the file does not have.
        options = ColumnMapping(date_order=mapping.date_order, decimal_comma=mapping.decimal_comma,
                                default_region=mapping.default_region)
        table = open_source(source, fields=fields | candidates, mapping=options, encoding=encoding,
                            delimiter=delimiter)
    matched = {header: field for header, field in table.mapped.items() if field in fields}
    return FileColumns(headers=list(table.headers), matched=matched, encoding=table.encoding,
                       delimiter=table.delimiter)


def _header_candidates(source: IO[bytes]) -> set[str]:
    """Every cell the first line could hold, split by each delimiter the reader knows (or a workbook's first row)."""
    head = source.read(SAMPLE_SIZE)
    if head.startswith(b"PK\x03\x04"):
        source.seek(0)
        try:
            workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError):
            return set()
        try:
            sheet = workbook.worksheets[0]
            for row in sheet.iter_rows(values_only=True):
                cells = {str(value).strip() for value in row if value is not None and str(value).strip()}
                if cells:
                    return cells
            return set()
        finally:
            workbook.close()
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("cp1252", errors="replace")
    lines = [line for line in io.StringIO(text, newline="") if line.strip()][:1]
    candidates: set[str] = set()
    for delimiter in DELIMITERS:
        for cells in csv.reader(lines, delimiter=delimiter):
            candidates.update(cell.strip() for cell in cells if cell.strip())
    return candidates


def import_batch_status(*, batch: ImportBatch) -> dict[str, Any]:
    """What the batch page's progress shows (and its JSON endpoint returns): status, rows read, counts.

    While a worker runs the batch, the rows read come from ImportProgress, which it writes outside the import's
    transaction; the batch row's own figure is written only when the import ends.
    """
    processed, estimated = batch.processed_rows, None
    is_finished = batch.status in FINISHED
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
