"""The kinds of file Atelier imports: for each, the fields a mapping may map onto, its pipeline and its rollback.

Adding a kind is one entry here: `run(batch=, table=, dry_run=, valid_only=, progress=)` leaves the batch with its
status, counts, preview and row errors; `rollback(batch)` takes an IMPORTED batch back (inside import_rollback's
transaction and history context) from the ImportChange rows the run recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imports.kinds.interactions import rollback_interaction_import, run_interaction_import
from imports.kinds.reference import (
    rollback_boutique_import,
    rollback_persona_import,
    rollback_product_import,
    run_boutique_import,
    run_persona_import,
    run_product_import,
)
from imports.kinds.responses import rollback_response_import, run_response_import
from imports.kinds_fields import (
    BOUTIQUE_FIELDS,
    CUSTOMER_FIELDS,
    INTERACTION_FIELDS,
    ORDER_FIELDS,
    PERSONA_FIELDS,
    PRODUCT_FIELDS,
    RESPONSE_FIELDS,
)
from imports.models import ImportBatch, ImportKind
from imports.pipeline import run_customer_import
from imports.pipeline.customers_rollback import rollback_customer_import
from imports.pipeline.orders import run_order_import
from imports.pipeline.orders_rollback import rollback_order_import


@dataclass(frozen=True)
class ImportableKind:
    fields: frozenset[str]
    run: Callable[..., None]
    rollback: Callable[[ImportBatch], None]


KINDS: dict[str, ImportableKind] = {
    ImportKind.CUSTOMERS: ImportableKind(CUSTOMER_FIELDS, run_customer_import, rollback_customer_import),
    ImportKind.ORDERS: ImportableKind(ORDER_FIELDS, run_order_import, rollback_order_import),
    ImportKind.INTERACTIONS: ImportableKind(INTERACTION_FIELDS, run_interaction_import, rollback_interaction_import),
    ImportKind.RESPONSES: ImportableKind(RESPONSE_FIELDS, run_response_import, rollback_response_import),
    ImportKind.PERSONAS: ImportableKind(PERSONA_FIELDS, run_persona_import, rollback_persona_import),
    ImportKind.PRODUCTS: ImportableKind(PRODUCT_FIELDS, run_product_import, rollback_product_import),
    ImportKind.BOUTIQUES: ImportableKind(BOUTIQUE_FIELDS, run_boutique_import, rollback_boutique_import),
}
