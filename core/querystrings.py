"""Reading what staff can type by hand into an address or a form field: ids, lists of ids.

One rule for every page: an id is ASCII digits within a bigint. str.isdigit() is no test for that ("²" and "١٢" are
digits to it, not to int()), and a number past a bigint is no row either; both are "no such id", never a 500.
"""

from __future__ import annotations

from typing import Any

BIGINT_MAX = 2**63 - 1

GIVE_ONCE = "Give this parameter once."


def repeated(query: Any, names: Any) -> list[str]:
    """Those of `names` that the query string (a QueryDict) holds more than once. A page size, a page or a filter
    sent twice (`?page_size=5&page_size=500`) is a question with two answers: Django would quietly take the last,
    and the schema says one value."""
    return [name for name in names if len(query.getlist(name)) > 1]


def int_id(value: Any) -> int | None:
    """`value` as a row id, or None when it is none (not ASCII digits, zero, or beyond a bigint)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 0 < number <= BIGINT_MAX else None


def int_ids(raw: str | None) -> list[int]:
    """The row ids of a comma-separated list ("12,15"), sorted, each once; parts that are no id are left out."""
    ids = {int_id(part) for part in (raw or "").split(",")}
    return sorted(number for number in ids if number is not None)


def count(value: Any) -> int | None:
    """`value` as a count from 1 (a page size), or None: ASCII digits, however many (a count past a bigint is
    BIGINT_MAX, which callers cap to their own bound anyway)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text) if len(text) <= 18 else BIGINT_MAX
    return number if number > 0 else None
