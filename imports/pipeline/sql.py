"""The pipeline's set-based statements: INSERT and UPDATE from arrays, history rows, the identity lookup."""


from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pghistory
import pghistory.models
from django.apps import apps
from django.db import connection

from customers.models import Customer, CustomerIdentity
from imports.pipeline.constants import (
    WRITTEN_FIELDS,
)
from imports.pipeline.state import _Client


def _insert(
    table: str,
    columns: dict[str, str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, str] | None = None,
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """INSERT ... SELECT FROM unnest(one array per column): one statement for a chunk, without building a model
    instance per row. `columns` maps a column to its PostgreSQL type; `constants` adds columns set to an SQL value.
    Returns the rows of `suffix` (e.g. "RETURNING id")."""
    if not rows:
        return []
    names = list(columns)
    constants = constants or {}
    arrays = ", ".join(f"%s::{'text' if kind == 'jsonb' else kind}[]" for kind in columns.values())
    selected = ", ".join(
        [
            *(f"v.{name}::jsonb" if kind == "jsonb" else f"v.{name}" for name, kind in columns.items()),
            *constants.values(),
        ]
    )
    parameters = []
    for position, (_name, kind) in enumerate(columns.items()):
        values = [row[position] for row in rows]
        parameters.append(
            [json.dumps(value) if value is not None else None for value in values] if kind == "jsonb" else values
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join([*names, *constants])}) "  # noqa: S608
            f"SELECT {selected} FROM unnest({arrays}) AS v({', '.join(names)}) {suffix}",
            parameters,
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
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.system, i.external_id, i.id, i.customer_id FROM {CustomerIdentity._meta.db_table} AS i
            JOIN unnest(%s::text[], %s::text[]) AS k(system, external_id)
              ON i.system = k.system AND i.external_id = k.external_id
            """,  # noqa: S608
            [[system for system, _ in keys], [external_id for _, external_id in keys]],
        )
        return {(system, external_id): (pk, customer_pk) for system, external_id, pk, customer_pk in cursor}


def _update_customers(clients: list[_Client], *, now: dt.datetime) -> None:
    """One UPDATE ... FROM unnest(arrays) for the chunk's changed clients (every written field, from the picture)."""
    names = list(WRITTEN_FIELDS)
    columns = ", ".join(["id", *names])
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{WRITTEN_FIELDS[name]}[]" for name in names)])
    assignments = ", ".join(
        f"{name} = v.{name}::jsonb" if name == "preferences" else f"{name} = v.{name}" for name in names
    )
    parameters: list[Any] = [now, [client.pk for client in clients]]
    for name in names:
        if name == "preferences":
            parameters.append([json.dumps(client.fields[name]) for client in clients])
        else:
            parameters.append([client.fields[name] for client in clients])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Customer._meta.db_table} AS c SET {assignments}, updated_at = %s "  # noqa: S608
            f"FROM unnest({arrays}) AS v({columns}) WHERE c.id = v.id",
            [parameters[0], *parameters[1:]],
        )
