"""The set-based import of a client file: streamed in chunks, matched and written with a few statements per chunk.

Per chunk of CHUNK_SIZE rows: every row is cleaned (imports.kinds.customers, shared with the resources); the clients
the chunk may be about are loaded with one query per key (identities, emails, phones, Atelier ids); the rows are
then applied in file order to that in-memory picture with customer_upsert's rules (identity first, then normalized
email, then a phone that identifies exactly one client whose email does not contradict; blanks never erase), so a
person who appears twice in the file is one client; finally the chunk is written with bulk statements (an UPDATE
from arrays, INSERTs, the consent ledger, one ImportChange per row created or changed).

The whole file is one transaction: rejected (an invalid row without "valid rows only") and dry runs are rolled back,
keeping only the batch record and its row errors, written after the rollback.
"""

from __future__ import annotations

import logging

import pghistory
from django.db import transaction
from django.utils import timezone

from imports.kinds.customers import CustomerImportContext
from imports.models import ImportBatch
from imports.pipeline.constants import (
    BLANK_VALUES,
    CHUNK_SIZE,
    DUPLICATE_WINDOW,
    HISTORY_TRIGGERS,
    IDENTITY_FIELDS,
    OUTCOMES,
    PREVIEW_ROWS,
    WRITTEN_FIELDS,
    Progress,
)
from imports.pipeline.run import _CustomerRun
from imports.pipeline.state import _chunks, _Rollback
from imports.reader import SourceTable

logger = logging.getLogger(__name__)

__all__ = [
    "BLANK_VALUES",
    "CHUNK_SIZE",
    "DUPLICATE_WINDOW",
    "HISTORY_TRIGGERS",
    "IDENTITY_FIELDS",
    "OUTCOMES",
    "PREVIEW_ROWS",
    "WRITTEN_FIELDS",
    "Progress",
    "run_customer_import",
]


def run_customer_import(
    *, batch: ImportBatch, table: SourceTable, dry_run: bool, valid_only: bool, progress: Progress | None = None
) -> None:
    """Import a client file into Atelier as one batch: all or nothing (unless `valid_only`), or a dry run.

    Leaves `batch` with its status (IMPORTED, REJECTED or PREVIEWED), counts, preview and row errors saved.
    """
    started_at = batch.started_at or timezone.now()
    context = CustomerImportContext.load(mapping=table.mapping, started_at=started_at)
    run = _CustomerRun(batch=batch, table=table, context=context)
    try:
        with transaction.atomic(), pghistory.context(source="import", import_batch=batch.pk) as history_context:
            run.history_context = history_context
            for chunk in _chunks(table, CHUNK_SIZE):
                run.process(chunk)
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
    logger.info("imports.customers_finished batch_id=%s status=%s counts=%s", batch.pk, status, run.counts)
