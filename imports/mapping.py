"""Column mappings: how a legacy file's headers, dates and numbers translate into Atelier's fields.

A mapping is a small YAML or JSON document the user keeps next to their file, so they never edit the file itself:

    columns:            # the file's header -> the Atelier field
      Courriel: email
      Date de naissance: birth_date
    date_order: dmy     # ymd (default), dmy or mdy; ISO 8601 dates are always accepted
    decimal_comma: true # true, false, or leave out to decide per value
    default_region: FR  # phones without a country code, when no boutique says otherwise
    constants:          # the same value on every row
      source: crm
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import ApplicationError
from customers.normalizers import normalize_country

DATE_ORDERS = ("ymd", "dmy", "mdy")
MAPPING_KEYS = ("columns", "date_order", "decimal_comma", "default_region", "constants")


def header_key(header: str) -> str:
    """How headers are compared: case-insensitive, without a BOM or surrounding spaces, inner spaces collapsed.

    NFC first, because a file saved on a Mac may spell "Prénom" with a combining accent.
    """
    return " ".join(unicodedata.normalize("NFC", header).replace("\ufeff", "").split()).casefold()


def _refuse(key: str, message: str) -> ApplicationError:
    return ApplicationError(f"Column mapping, {key}: {message}", extra={"fields": {key: [message]}})


@dataclass
class ColumnMapping:
    """How to read one legacy file: its headers onto Atelier fields, its date order and decimal mark."""

    columns: dict[str, str] = field(default_factory=dict)
    date_order: str = "ymd"
    decimal_comma: bool | None = None
    default_region: str | None = None
    constants: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Built in code rather than read from a document: still refuse a date order no parser knows.
        self.date_order = _date_order(self.date_order)

    @classmethod
    def from_file(cls, path: str | Path) -> ColumnMapping:
        """Read a mapping from a .yaml/.yml or .json file."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise ApplicationError(f"Column mapping {path.name}: use a .yaml, .yml or .json file.")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ApplicationError(f"Column mapping {path} does not exist.") from None
        except UnicodeDecodeError:
            raise ApplicationError(f"Column mapping {path.name} is not UTF-8 text.") from None
        try:
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ApplicationError(f"Column mapping {path.name} cannot be read: {exc}") from None
        return cls.from_dict({} if data is None else data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMapping:
        """Build a mapping from its document form, refusing anything that would be silently misread."""
        if not isinstance(data, Mapping):
            raise ApplicationError("A column mapping must be an object with keys: " + ", ".join(MAPPING_KEYS) + ".")
        unknown = [str(key) for key in data if key not in MAPPING_KEYS]
        if unknown:
            raise _refuse(unknown[0], f"unknown key; a mapping has {', '.join(MAPPING_KEYS)}.")
        return cls(
            columns=_columns(data.get("columns")),
            date_order=_date_order(data.get("date_order", "ymd")),
            decimal_comma=_decimal_comma(data.get("decimal_comma")),
            default_region=_default_region(data.get("default_region")),
            constants=_constants(data.get("constants"), data.get("columns") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The document form, as kept on the import batch."""
        return {
            "columns": dict(self.columns),
            "date_order": self.date_order,
            "decimal_comma": self.decimal_comma,
            "default_region": self.default_region,
            "constants": dict(self.constants),
        }

    def validate_for(self, fields: Iterable[str]) -> None:
        """Refuse a mapping onto a field this kind of file does not have, listing the fields it has."""
        known = set(fields)
        listed = ", ".join(sorted(known))
        for header, target in self.columns.items():
            if target not in known:
                raise _refuse(
                    "columns", f"{header!r} is mapped onto {target!r}, which is not a field here. Fields: {listed}."
                )
        for target in self.constants:
            if target not in known:
                raise _refuse("constants", f"{target!r} is not a field here. Fields: {listed}.")


def _columns(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _refuse("columns", "must map each header of the file onto an Atelier field.")
    columns: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header, target in value.items():
        if not isinstance(header, str):
            # YAML reads an unquoted Yes, No, On or 2024 as a boolean or a number, not as the header's text.
            raise _refuse("columns", f"the header {header!r} is not text; put it in quotes.")
        if not isinstance(target, str) or not target.strip():
            raise _refuse("columns", f"{header!r} must be mapped onto a field name, not {target!r}.")
        key = header_key(header)
        if not key:
            raise _refuse("columns", "a header cannot be blank.")
        if key in seen:
            raise _refuse("columns", f"{seen[key]!r} and {header!r} are the same header.")
        seen[key] = header
        columns[header] = target.strip()
    return columns


def _date_order(value: Any) -> str:
    order = value.strip().lower() if isinstance(value, str) else value
    if order not in DATE_ORDERS:
        raise _refuse("date_order", f"{value!r} is not one of ymd, dmy, mdy.")
    return order


def _decimal_comma(value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _refuse("decimal_comma", f"{value!r} must be true, false or left out.")
    return value


def _default_region(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refuse("default_region", f"{value!r} is not a two-letter country code.")
    try:
        return normalize_country(value, field="default_region")
    except ApplicationError as exc:
        raise _refuse("default_region", exc.message) from None


def _constants(value: Any, columns: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _refuse("constants", "must map Atelier fields onto the value every row gets.")
    mapped = set(columns.values()) if isinstance(columns, Mapping) else set()
    constants: dict[str, str] = {}
    for target, constant in value.items():
        if not isinstance(target, str) or not target.strip():
            raise _refuse("constants", f"{target!r} is not a field name.")
        if isinstance(constant, bool):
            # YAML turns an unquoted yes/no into a boolean; give the parsers the words they accept.
            constant = "yes" if constant else "no"
        elif isinstance(constant, int | float):
            constant = str(constant)
        if not isinstance(constant, str):
            raise _refuse("constants", f"the value of {target!r} must be text, not {constant!r}.")
        if target.strip() in mapped:
            raise _refuse("constants", f"{target!r} is also mapped from a column; keep one of the two.")
        constants[target.strip()] = constant.strip()
    return constants
