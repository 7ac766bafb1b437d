"""The clients' history rows (django-pghistory) written set-based, for batch writes that set the triggers aside."""

from __future__ import annotations

import json
from typing import Any

import pghistory.models
from django.apps import apps
from django.db import connection

from customers.models import Customer

# pghistory's row triggers on clients. Each of their rows attaches the context in a PL/pgSQL block with an exception
# handler, i.e. a subtransaction per row: over a 100,000-row import in one transaction the cost per row keeps
# growing. A batch service given the caller's history context sets them aside and writes the same rows itself, one
# statement per batch (customers_history_record).
HISTORY_TRIGGERS = ("customers.Customer:insert_insert", "customers.Customer:update_update")


def customers_history_record(customer_ids: list[int], *, label: str, context: Any) -> None:
    """Write the rows pghistory's triggers would write for these clients (label "insert" or "update"), under the
    caller's pghistory context, in one statement."""
    if not customer_ids:
        return
    history = apps.get_model("customers", "CustomerHistory")
    columns = [field.column for field in history._meta.concrete_fields if not field.name.startswith("pgh_")]
    contexts = pghistory.models.Context._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {contexts} (id, metadata, created_at, updated_at) "  # noqa: S608
            "VALUES (%s, %s::jsonb, NOW(), NOW()) ON CONFLICT (id) DO UPDATE "
            "SET metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at "
            f"WHERE {contexts}.metadata != EXCLUDED.metadata",
            [context.id, json.dumps(context.metadata)],
        )
        cursor.execute(
            f"INSERT INTO {history._meta.db_table} ({', '.join(columns)}, pgh_context_id, pgh_created_at, "  # noqa: S608
            f"pgh_label, pgh_obj_id) SELECT {', '.join(f'c.{column}' for column in columns)}, %s, NOW(), %s, c.id "
            f"FROM {Customer._meta.db_table} AS c WHERE c.id = ANY(%s::bigint[])",
            [context.id, label, list(customer_ids)],
        )
