"""The house's JSON reader for every request body (the API's parser in core.parsers, the webhooks): what json.loads
accepts but Atelier cannot store or process is refused as malformed, with the reason, before any view runs.

Refused: nesting deeper than MAX_DEPTH (json.loads would recurse until a RecursionError, a 500), lone surrogate
escapes such as "\\ud800" in any string or key (no UTF-8 encodes them: PostgreSQL, the logs and the pages fail on
them), and numbers that are not finite (NaN, Infinity, and 1e400, which Python reads as an infinity).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64

# A \uD800-\uDFFF escape; paired ones (an emoji written as two escapes) are fine and checked on the decoded text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")


class JSONRefused(ValueError):
    """A body json.loads reads but the house refuses; the message says why, for the caller."""


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONRefused(f"The body holds the number {text[:40]}, which is out of range.")
    return number


def _no_constant(name: str) -> float:
    raise JSONRefused(f"The body holds {name}, which JSON does not allow.")


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_tree(value: Any, *, check_strings: bool) -> None:
    """Walk the decoded body without recursion: its depth, and (when the text had surrogate escapes) its strings."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise JSONRefused(f"The body is nested deeper than {MAX_DEPTH} levels.")
            if isinstance(node, dict):
                if check_strings and any(_has_lone_surrogate(key) for key in node):
                    raise JSONRefused("The body holds a lone surrogate escape (such as \\ud800), which is no text.")
                stack.extend((child, depth + 1) for child in node.values())
            else:
                stack.extend((child, depth + 1) for child in node)
        elif check_strings and isinstance(node, str) and _has_lone_surrogate(node):
            raise JSONRefused("The body holds a lone surrogate escape (such as \\ud800), which is no text.")


def json_loads(text: str | bytes) -> Any:
    """json.loads with the house's refusals. Raises JSONRefused (a ValueError) for those, json.JSONDecodeError (also
    a ValueError) for text that is not JSON, UnicodeDecodeError for bytes that are not UTF-8."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise JSONRefused(f"The body is nested deeper than {MAX_DEPTH} levels.") from None
    _check_tree(value, check_strings=_SURROGATE_ESCAPE.search(text) is not None)
    return value


def json_holds_nul(value: Any) -> bool:
    """Whether a parsed JSON value holds the NUL character in any string, key or value: PostgreSQL's jsonb refuses
    it, so a service says so on the field instead of letting the INSERT fail."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(json_holds_nul(key) or json_holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(json_holds_nul(item) for item in value)
    return False
