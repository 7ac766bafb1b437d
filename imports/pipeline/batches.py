"""What every kind's import shares: the outcome of each row (counts, preview, row errors, exact duplicates) and the
run of a file as one batch, in chunks, inside one transaction that a dry run or a refused file rolls back."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import pghistory
from django.db import transaction
from django.utils import timezone

from imports.models import ImportBatch
from imports.pipeline.constants import CHUNK_SIZE, DUPLICATE_WINDOW, OUTCOMES, PREVIEW_ROWS, Progress
from imports.pipeline.parallel import prepared_chunks
from imports.pipeline.state import _chunks, _ErrorSpool, _Rollback
from imports.reader import SourceRow, SourceTable

logger = logging.getLogger(__name__)


class ChunkedRun(Protocol):
    """One import across its chunks, as run_batch drives it."""

    counts: dict[str, int]
    preview: dict[str, list[dict[str, Any]]]
    errors: _ErrorSpool
    processed: int
    history_context: Any

    def process(self, rows: list[SourceRow]) -> None: ...


class RowOutcomes:
    """Counts, preview and row errors of one import, and the recent rows that make a repeated row "skipped"."""

    def __init__(self, *, table: SourceTable) -> None:
        self.table = table
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.preview: dict[str, list[dict[str, Any]]] = {outcome: [] for outcome in OUTCOMES}
        self.errors = _ErrorSpool()
        self.processed = 0
        self.history_context: Any = None
        # Only the last DUPLICATE_WINDOW rows are remembered (bounded memory); a copy further away is matched by
        # its key instead and comes out "unchanged".
        self._recent_rows: dict[tuple[str, ...], None] = {}

    def outcome(self, outcome: str, row: SourceRow, **details: Any) -> None:
        self.counts[outcome] += 1
        if len(self.preview[outcome]) < PREVIEW_ROWS:
            self.preview[outcome].append({"line": row.line, "row": row.raw, **details})

    def invalid(self, row: SourceRow, field_name: str | None, message: str) -> None:
        """Refuse a row, reported under the file's own name for the field (or the field's name when unmapped)."""
        column = (self.table.header_for.get(field_name) or field_name) if field_name else ""
        self.outcome("invalid", row, column=column, message=message)
        self.errors.add(row.line, column, message, row.raw)

    def admit(self, row: SourceRow) -> bool:
        """Count the row as read; False (and "skipped") when the same row came shortly before."""
        self.processed += 1
        key = (*row.values.values(), *row.extra)
        if key in self._recent_rows:
            self.outcome("skipped", row, reason="The same row appears earlier in the file.")
            return False
        self._recent_rows[key] = None
        if len(self._recent_rows) > DUPLICATE_WINDOW:
            del self._recent_rows[next(iter(self._recent_rows))]
        return True


def _prepared(
    table: SourceTable, run: ChunkedRun, chunk_size: int, chunks: Iterable[list[SourceRow]] | None
) -> Iterator[tuple[list[SourceRow], Any]]:
    """The chunks to process, each with its rows already cleaned when the run cleans apart (`prepare`), on the other
    cores for a large file (parallel.py)."""
    prepare = getattr(run, "prepare", None)
    if chunks is not None:
        # A kind whose records span several rows (orders) gives chunks that never split one.
        yield from ((chunk, None) for chunk in chunks)
    elif prepare is None:
        yield from ((chunk, None) for chunk in _chunks(table, chunk_size))
    else:
        yield from prepared_chunks(table, chunk_size, prepare)


def run_batch(
    *,
    batch: ImportBatch,
    table: SourceTable,
    run: ChunkedRun,
    dry_run: bool,
    valid_only: bool,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    chunks: Iterable[list[SourceRow]] | None = None,
) -> None:
    """Feed the file to `run` chunk by chunk in one transaction, kept only when the import is real and accepted.

    Leaves `batch` with its status (IMPORTED, REJECTED or PREVIEWED), counts, preview and row errors saved; the
    row errors are written after the rollback, so that a refused file still explains itself.
    """
    try:
        with transaction.atomic(), pghistory.context(source="import", import_batch=batch.pk) as history_context:
            run.history_context = history_context
            for chunk, prepared in _prepared(table, run, chunk_size, chunks):
                if prepared is None:
                    run.process(chunk)
                else:
                    run.process(chunk, prepared)
                batch.processed_rows = run.processed
                ImportBatch.objects.filter(pk=batch.pk).update(processed_rows=run.processed)
                if progress is not None:
                    progress(len(chunk))
            if dry_run or (run.counts["invalid"] and not valid_only):
                raise _Rollback
    except _Rollback:
        pass
    if dry_run:
        status = ImportBatch.Status.PREVIEWED
    elif run.counts["invalid"] and not valid_only:
        status = ImportBatch.Status.REJECTED
    else:
        status = ImportBatch.Status.IMPORTED
    batch.status = status
    batch.counts = dict(run.counts)
    # The file's own column order, for the errors CSV (JSON objects in PostgreSQL do not keep key order).
    batch.preview = {"headers": list(table.headers), **run.preview}
    batch.processed_rows = batch.total_rows = run.processed
    batch.finished_at = timezone.now()
    batch.save(
        update_fields=["status", "counts", "preview", "processed_rows", "total_rows", "finished_at", "updated_at"]
    )
    run.errors.write(batch)
    logger.info("imports.finished batch_id=%s kind=%s status=%s counts=%s", batch.pk, batch.kind, status, run.counts)
