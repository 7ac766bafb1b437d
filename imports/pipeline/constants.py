"""The pipeline's fixed values: chunk size, preview and duplicate limits, outcomes, written fields, triggers."""


from __future__ import annotations

from collections.abc import Callable
from typing import Any

CHUNK_SIZE = 5_000
PREVIEW_ROWS = 5
DUPLICATE_WINDOW = 20_000
OUTCOMES = ("new", "updated", "unchanged", "skipped", "invalid")
# The client's fields an import writes, as columns (foreign keys by id), with their PostgreSQL array types.
WRITTEN_FIELDS = {
    "first_name": "text",
    "last_name": "text",
    "email": "text",
    "phone": "text",
    "birth_date": "date",
    "language": "text",
    "city": "text",
    "country": "text",
    "home_boutique_id": "bigint",
    "advisor_id": "bigint",
    "persona_id": "bigint",
    "advisor_notes": "text",
    "preferences": "text",  # JSON text, cast to jsonb in the statement
}
BLANK_VALUES: dict[str, Any] = {
    name: None if kind in ("date", "bigint") else "" for name, kind in WRITTEN_FIELDS.items()
} | {"preferences": {}}
IDENTITY_FIELDS = ("external_id", "crm_id", "pos_id", "ecommerce_id")
# pghistory's row triggers on clients. Each of their rows attaches the context in a PL/pgSQL block with an exception
# handler, i.e. a subtransaction per row: over a 100,000-row import in one transaction the cost per row keeps
# growing. The pipeline writes the same history rows itself, one statement per chunk (_record_history).
HISTORY_TRIGGERS = ("customers.Customer:insert_insert", "customers.Customer:update_update")

Progress = Callable[[int], None]
