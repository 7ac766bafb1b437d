"""The set-based import of a client file: streamed in chunks, matched and written with a few statements per chunk.

Per chunk of CHUNK_SIZE rows: every row is cleaned (imports.kinds.customers, shared with the resources); the rows are
then handed to customers_upsert_many, which matches and writes them with the golden record's rule (identity first,
then normalized email, then a phone that identifies exactly one client whose email does not contradict; blanks
never erase) in file order, so a person who appears twice in the file is one client, with a few statements per
chunk; the import keeps the outcomes and one ImportChange per row created or changed.

The whole file is one transaction: rejected (an invalid row without "valid rows only") and dry runs are rolled back,
keeping only the batch record and its row errors, written after the rollback.
"""

from __future__ import annotations

from django.utils import timezone

from imports.kinds.customers import CustomerImportContext
from imports.models import ImportBatch
from imports.pipeline.batches import run_batch
from imports.pipeline.constants import (
    CHUNK_SIZE,
    DUPLICATE_WINDOW,
    IDENTITY_FIELDS,
    OUTCOMES,
    PREVIEW_ROWS,
    Progress,
)
from imports.pipeline.run import _CustomerRun
from imports.reader import SourceTable

__all__ = [
    "CHUNK_SIZE",
    "DUPLICATE_WINDOW",
    "IDENTITY_FIELDS",
    "OUTCOMES",
    "PREVIEW_ROWS",
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
    run_batch(
        batch=batch, table=table, run=run, dry_run=dry_run, valid_only=valid_only, progress=progress,
        chunk_size=CHUNK_SIZE,
    )
