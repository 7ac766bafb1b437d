"""The pipeline's set-based statements for the tables imports owns, and for kinds not yet handed to their app's batch
service: the shared helpers of core.bulk (rows staged with COPY, one INSERT or UPDATE per chunk)."""

from __future__ import annotations

from typing import Any

from core.bulk import insert_rows, stage_rows


def _staged(columns: dict[str, str], rows: list[tuple[Any, ...]]) -> str:
    """core.bulk.stage_rows: COPY the rows into a temporary table and return its name."""
    return stage_rows(columns, rows)


def _insert(
    table: str,
    columns: dict[str, str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, str] | None = None,
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """core.bulk.insert_rows: one INSERT ... SELECT from the chunk's rows staged with COPY."""
    return insert_rows(table, columns, rows, constants=constants, suffix=suffix)
