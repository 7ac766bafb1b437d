"""Reading the values of an outside record, refusing the record (RecordRejected) with the field named."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime

from core.connectors.base import RecordRejected


def reject(field: str, message: str) -> RecordRejected:
    return RecordRejected(f"{field}: {message}", field_errors={field: [message]})


def text(record: dict[str, Any], name: str, *, required: bool = False, max_length: int = 255,
         where: str = "") -> str:
    """A string (or an integer id) field; blank when absent unless required."""
    label = f"{where}{name}"
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise reject(label, "This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise reject(label, f"Expected text, got {type(value).__name__}.")
    value = str(value).strip()
    if "\x00" in value:
        raise reject(label, "Text cannot hold the NUL character.")
    if len(value) > max_length:
        raise reject(label, f"Longer than {max_length} characters.")
    return value


def moment(record: dict[str, Any], name: str, *, required: bool = True, where: str = "") -> dt.datetime | None:
    """An ISO 8601 date and time with its time zone, in UTC."""
    label = f"{where}{name}"
    value = record.get(name)
    if value in (None, ""):
        if required:
            raise reject(label, "This field is required.")
        return None
    if not isinstance(value, str):
        raise reject(label, f"Expected an ISO 8601 date and time, got {type(value).__name__}.")
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise reject(label, f"{value!r} is not an ISO 8601 date and time.")
    if parsed.tzinfo is None:
        raise reject(label, f"{value!r} has no time zone.")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise reject(label, f"{value!r} is out of range.") from None


def obj(record: dict[str, Any], name: str, *, required: bool = True, where: str = "") -> dict[str, Any]:
    value = record.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise reject(f"{where}{name}", "Expected an object." if value is not None else "This field is required.")
    return value


def items(record: dict[str, Any], name: str, *, where: str = "") -> list[Any]:
    """A list field; absent is empty (Square leaves empty lists out)."""
    value = record.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise reject(f"{where}{name}", "Expected a list.")
    return value


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
