"""Set-based writes every app's batch services share: rows staged with COPY, then one INSERT or UPDATE per batch.

A batch service hands these helpers plain rows (tuples in the order of `columns`) or a RowsQuery (a SELECT the
caller built), never model instances: one statement for a batch, whatever its size. They write the table they are
given; which app may write which table is the caller's business (tests/integration/test_table_ownership.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

Row = Sequence[Any]


@dataclass(frozen=True)
class RowsQuery:
    """A SELECT a service may take instead of rows: its columns, in order, are the ones the service writes."""

    sql: str
    params: Sequence[Any] = field(default_factory=tuple)


def stage_rows(columns: dict[str, str], rows: Iterable[Row]) -> str:
    """COPY `rows` into a temporary table with these columns (name -> PostgreSQL type) and return its name.

    COPY through psycopg's C row formatting is several times cheaper than binding one array parameter per column
    (psycopg builds array literals in Python). The table lives as long as the connection, emptied before each use
    and at every commit; the caller must be inside a transaction, so that its rows outlive the COPY.
    """
    name = "bulk_stage_" + hashlib.sha1(repr(sorted(columns.items())).encode()).hexdigest()[:16]  # noqa: S324
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


def insert_rows(
    table: str,
    columns: dict[str, str],
    rows: Sequence[Row] | RowsQuery,
    *,
    constants: dict[str, str] | None = None,
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """One INSERT ... SELECT for the whole batch: from rows staged with COPY, or from a RowsQuery.

    `columns` maps a column to its PostgreSQL type ("jsonb" columns take Python values, dumped as JSON);
    `constants` adds columns set to an SQL expression. Returns the rows of `suffix` (e.g. "RETURNING id").
    """
    if not isinstance(rows, RowsQuery) and not rows:
        return []
    constants = constants or {}
    names = ", ".join([*columns, *constants])
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if isinstance(rows, RowsQuery):
            source, params = f"({rows.sql}) AS q", list(rows.params)
        else:
            source, params = stage_rows(columns, rows), []
        cursor.execute(
            f"INSERT INTO {table} ({names}) "  # noqa: S608 (names from the models)
            f"SELECT {', '.join([*columns, *constants.values()])} FROM {source} {suffix}",
            params,
        )
        return cursor.fetchall() if "RETURNING" in suffix else []


def update_rows(
    table: str,
    columns: dict[str, str],
    rows: Sequence[Row],
    *,
    key: str = "id",
    assignments: Sequence[str] = (),
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """One UPDATE ... FROM the rows staged with COPY: each row is (key, *values of `columns`). `assignments` adds
    SQL assignments (`updated_at = statement_timestamp()`). Returns the rows of `suffix` ("RETURNING t.id")."""
    if not rows:
        return []
    sets = [*(f"{name} = v.{name}" for name in columns), *assignments]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        stage = stage_rows({key: "bigint", **columns}, rows)
        cursor.execute(
            f"UPDATE {table} AS t SET {', '.join(sets)} FROM {stage} AS v WHERE t.{key} = v.{key} {suffix}"  # noqa: S608
        )
        return cursor.fetchall() if "RETURNING" in suffix else []
