"""Cells of the files staff open in a spreadsheet: defused formulas, and one way to write text and numbers.

Pure functions (no app imports), shared by every CSV and XLSX export: the client list's export, the admin's export
actions and `manage.py export_data`.
"""

from __future__ import annotations

import decimal
import re
from typing import Any

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The escape itself. A text that already starts with one gets one too, so that the importer's rule is simply
# "drop one leading apostrophe" and no text changes on a round trip ("'Tis" → "''Tis" → "'Tis").
ESCAPE = "'"
# Characters XML 1.0 (and so XLSX) cannot hold at all; openpyxl refuses them (openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE).
XLSX_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

NUMBER_TYPES = (int, float, decimal.Decimal)


def escape_formula(value: Any) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return f"{ESCAPE}{text}" if text.startswith((*FORMULA_STARTS, ESCAPE)) else text


def is_number(value: Any) -> bool:
    # bool is an int to Python, but a yes/no to a person: it is written as text.
    return isinstance(value, NUMBER_TYPES) and not isinstance(value, bool)


def csv_cell(value: Any) -> str:
    """A cell for a CSV file: numbers as they are (a real -2 is a number, not a formula), any text escaped."""
    if value is None:
        return ""
    if is_number(value):
        return str(value)
    return escape_formula(value)


def xlsx_cell(value: Any) -> Any:
    """A cell for an XLSX sheet: numbers stay numbers, text is escaped (openpyxl would store "=…" as a formula)."""
    if value is None or is_number(value):
        return value
    return XLSX_ILLEGAL_CHARACTERS.sub("", escape_formula(value))
