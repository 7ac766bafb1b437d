"""The ids other systems give their records (an order's number, a client's id at the POS, a checkout's token).

One rule for every way in: an id is text or a whole number (never a fraction, NaN, an infinity or a boolean, which a
JSON body can hold and Python's str() would turn into "nan" or "inf"), at most a column's length, and only printable
characters (no NUL, which PostgreSQL cannot store, no control characters and no lone surrogates).
"""

from __future__ import annotations

from typing import Any

from core.errors import ApplicationError


def external_id_check(value: Any, *, field: str, max_length: int) -> str:
    """`value` as an id's text, stripped ("" for None or ""); raises ApplicationError on `field` otherwise."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApplicationError.for_field(field, f"{value!r} is not an id: give text or a whole number.")
    text = str(value).strip()
    if len(text) > max_length:
        raise ApplicationError.for_field(field, f"An id has at most {max_length} characters, not {len(text)}.")
    if not text.isprintable():
        raise ApplicationError.for_field(field, "An id holds printable characters only.")
    return text
