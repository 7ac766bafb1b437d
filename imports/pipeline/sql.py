"""The pipeline's set-based statements: INSERT and UPDATE from rows staged with COPY, history, identity lookup."""


from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pghistory
import pghistory.models
from django.apps import apps
from django.db import connection, transaction

from customers.models import Customer, CustomerIdentity
from imports.pipeline.constants import (
    WRITTEN_FIELDS,
)
from imports.pipeline.state import _Client


def _staged(columns: dict[str, str], rows: list[tuple[Any, ...]]) -> str:
    """COPY `rows` into a temporary table with these columns (name -> PostgreSQL type) and return its name.

    COPY through psycopg's C row formatting is several times cheaper than binding one array parameter per column
    (psycopg builds array literals in Python). The table lives as long as the connection, emptied before each use
    and at every commit; callers run inside a transaction (imports always do), so its rows outlive the COPY.
    """
    name = "import_stage_" + hashlib.sha1(repr(sorted(columns.items())).encode()).hexdigest()[:16]  # noqa: S324
    definition = ", ".join(f"{column} {kind}" for column, kind in columns.items())
    json_positions = [position for position, kind in enumerate(columns.values()) if kind == "jsonb"]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({definition}) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {name}")
        with cursor.connection.cursor() as raw, raw.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                if json_positions:
                    row = list(row)  # noqa: PLW2901
                    for position in json_positions:
                        if row[position] is not None:
                            row[position] = json.dumps(row[position])
                copy.write_row(row)
    return name


def _insert(
    table: str,
    columns: dict[str, str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, str] | None = None,
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """INSERT ... SELECT from the chunk's rows staged with COPY (_staged): one statement for a chunk, without
    building a model instance per row. `columns` maps a column to its PostgreSQL type ("jsonb" columns take Python
    values, dumped as JSON); `constants` adds columns set to an SQL value. Returns the rows of `suffix` (e.g.
    "RETURNING id")."""
    if not rows:
        return []
    constants = constants or {}
    with transaction.atomic(savepoint=False):
        stage = _staged(columns, rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join([*columns, *constants])}) "  # noqa: S608
                f"SELECT {', '.join([*columns, *constants.values()])} FROM {stage} {suffix}"
            )
            return cursor.fetchall() if "RETURNING" in suffix else []


def _record_history(customer_ids: list[int], *, label: str, context: Any) -> None:
    """The rows pghistory's triggers would write for these clients (insert or update), with the import's context,
    in one statement (see HISTORY_TRIGGERS)."""
    if not customer_ids:
        return
    history = apps.get_model("customers", "CustomerHistory")
    columns = [field.column for field in history._meta.concrete_fields if not field.name.startswith("pgh_")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {pghistory.models.Context._meta.db_table} (id, metadata, created_at, updated_at) "  # noqa: S608
            "VALUES (%s, %s::jsonb, NOW(), NOW()) ON CONFLICT (id) DO UPDATE "
            "SET metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at "
            f"WHERE {pghistory.models.Context._meta.db_table}.metadata != EXCLUDED.metadata",
            [context.id, json.dumps(context.metadata)],
        )
        cursor.execute(
            f"INSERT INTO {history._meta.db_table} ({', '.join(columns)}, pgh_context_id, pgh_created_at, "  # noqa: S608
            f"pgh_label, pgh_obj_id) SELECT {', '.join(f'c.{column}' for column in columns)}, %s, NOW(), %s, c.id "
            f"FROM {Customer._meta.db_table} AS c WHERE c.id = ANY(%s::bigint[])",
            [context.id, label, list(customer_ids)],
        )


def _identities_of(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """(system, external id) -> (identity id, client id), for the keys that exist: one query."""
    if not keys:
        return {}
    with transaction.atomic(savepoint=False):
        stage = _staged({"system": "text", "external_id": "text"}, keys)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT i.system, i.external_id, i.id, i.customer_id FROM {CustomerIdentity._meta.db_table} AS i "  # noqa: S608
                f"JOIN {stage} AS k ON i.system = k.system AND i.external_id = k.external_id"
            )
            return {(system, external_id): (pk, customer_pk) for system, external_id, pk, customer_pk in cursor}


def _update_customers(clients: list[_Client], *, now: dt.datetime) -> None:
    """One UPDATE ... FROM the chunk's changed clients, staged with COPY (every written field, from the picture)."""
    names = list(WRITTEN_FIELDS)
    columns = {"id": "bigint", **{name: "jsonb" if name == "preferences" else WRITTEN_FIELDS[name] for name in names}}
    with transaction.atomic(savepoint=False):
        stage = _staged(columns, [(client.pk, *(client.fields[name] for name in names)) for client in clients])
        assignments = ", ".join(f"{name} = v.{name}" for name in names)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Customer._meta.db_table} AS c SET {assignments}, updated_at = %s "  # noqa: S608
                f"FROM {stage} AS v WHERE c.id = v.id",
                [now],
            )
