"""The kinds of file Atelier imports: for each, the fields a mapping may map onto, its pipeline and its rollback.

Adding a kind is one entry here: `run(batch=, table=, dry_run=, valid_only=, progress=)` leaves the batch with its
status, counts, preview and row errors; `rollback(batch)` takes an IMPORTED batch back (inside import_rollback's
transaction and history context) from the ImportChange rows the run recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imports.kinds_fields import CUSTOMER_FIELDS
from imports.models import ImportBatch, ImportKind
from imports.pipeline import run_customer_import
from imports.pipeline.customers_rollback import rollback_customer_import


@dataclass(frozen=True)
class ImportableKind:
    fields: frozenset[str]
    run: Callable[..., None]
    rollback: Callable[[ImportBatch], None]


KINDS: dict[str, ImportableKind] = {
    ImportKind.CUSTOMERS: ImportableKind(CUSTOMER_FIELDS, run_customer_import, rollback_customer_import),
}
