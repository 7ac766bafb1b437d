"""The admin's import forms: the upload (step 1) and the column mapping (step 2). They only read and validate;
the views hand what they clean to imports.services."""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path
from typing import Any

from django import forms

from core.errors import ApplicationError
from imports.mapping import DATE_ORDERS, ColumnMapping
from imports.models import ImportKind
from imports.reader import Deadline, workbook_check
from imports.registry import KINDS

UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx")
MAPPING_SUFFIXES = (".yaml", ".yml", ".json")
# A mapping is a few lines of YAML; anything much larger is not one.
MAPPING_MAX_BYTES = 256 * 1024
DATE_ORDER_LABELS = {
    "ymd": "Year first (2024-03-07)",
    "dmy": "Day first (07/03/2024)",
    "mdy": "Month first (03/07/2024)",
}
DELIMITER_CHOICES = [("", "Detect"), (",", "Comma ,"), (";", "Semicolon ;"), ("\t", "Tab"), ("|", "Pipe |")]
DECIMAL_COMMA_CHOICES = [
    ("auto", "Auto: as the mapping file says, else decided per value"),
    ("yes", "Yes: 1.234,56"),
    ("no", "No: 1,234.56"),
]
NOT_IMPORTED = ""


def kind_choices() -> list[tuple[str, str]]:
    """The kinds imports.registry can import, in ImportKind's order (the registry grows as kinds are added)."""
    return [(kind.value, kind.label) for kind in ImportKind if kind.value in KINDS]


def _decimal_comma(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _decimal_comma_choice(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "auto")


class ImportUploadForm(forms.Form):
    """Step 1: what the file holds, the file, an optional mapping file, and how to read it (blank: detected)."""

    kind = forms.ChoiceField(label="What the file holds")
    file = forms.FileField(
        label="File",
        help_text="CSV or TSV in any common encoding (UTF-8, Windows-1252 …), or an Excel workbook (.xlsx).",
    )
    mapping_file = forms.FileField(
        label="Column mapping file", required=False,
        help_text="Optional: a .yaml or .json column mapping. You can also map the columns on the next page.",
    )
    encoding = forms.CharField(
        label="Encoding", required=False, max_length=32,
        help_text="Blank: detected. For example utf-8, cp1252, latin-1.",
    )
    delimiter = forms.ChoiceField(label="Delimiter", required=False, choices=DELIMITER_CHOICES)
    date_order = forms.ChoiceField(
        label="Dates",
        required=False,
        choices=[("", "As the mapping file says (else year first)"), *DATE_ORDER_LABELS.items()],
        help_text="How dates that are not ISO 8601 are written.",
    )
    decimal_comma = forms.ChoiceField(label="Decimal comma", choices=DECIMAL_COMMA_CHOICES, initial="auto")
    default_region = forms.CharField(
        label="Default phone region", required=False, max_length=2,
        help_text="Two-letter country for phone numbers without a country code (blank: the boutique's, else the "
        "house default).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in UPLOAD_SUFFIXES:
            raise forms.ValidationError(f"Upload a {', '.join(UPLOAD_SUFFIXES)} file.")
        try:
            # A hostile workbook (a DTD, a zip bomb, a sheet declaring a million rows of 16,384 columns) is refused
            # here, before it is stored; the reader makes the same checks again whenever it opens one.
            workbook_check(upload, deadline=Deadline.inline())
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return upload

    def clean_encoding(self) -> str:
        encoding = self.cleaned_data["encoding"].strip()
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise forms.ValidationError(f"{encoding!r} is not an encoding; try utf-8, cp1252 or latin-1.") from None
        return encoding

    def clean_mapping_file(self) -> ColumnMapping | None:
        upload = self.cleaned_data.get("mapping_file")
        if not upload:
            return None
        suffix = Path(upload.name).suffix.lower()
        if suffix not in MAPPING_SUFFIXES:
            raise forms.ValidationError("A column mapping is a .yaml, .yml or .json file.")
        if upload.size > MAPPING_MAX_BYTES:
            raise forms.ValidationError("This file is too large to be a column mapping.")
        # ColumnMapping.from_file reads a path: the same rules (and messages) as on the command line.
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"mapping{suffix}"
            path.write_bytes(upload.read())
            try:
                return ColumnMapping.from_file(path)
            except ApplicationError as error:
                raise forms.ValidationError(error.message.replace(path.name, upload.name)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        base = (cleaned.get("mapping_file") or ColumnMapping()).to_dict()
        if cleaned.get("date_order"):
            base["date_order"] = cleaned["date_order"]
        if cleaned.get("decimal_comma") != "auto":
            base["decimal_comma"] = _decimal_comma(cleaned["decimal_comma"])
        if cleaned.get("default_region"):
            base["default_region"] = cleaned["default_region"]
        try:
            cleaned["mapping"] = ColumnMapping.from_dict(base)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        try:
            # Columns and constants come from the mapping file alone: its error is shown beside it.
            cleaned["mapping"].validate_for(KINDS[cleaned["kind"]].fields)
        except ApplicationError as error:
            self.add_error("mapping_file", error.message)
        return cleaned


class ColumnMappingForm(forms.Form):
    """Step 2: each header of the file onto one of the kind's fields (or not imported), prefilled with the
    automatic match, and the mapping's reading options. `mapping` builds the ColumnMapping."""

    date_order = forms.ChoiceField(label="Dates", choices=list(DATE_ORDER_LABELS.items()))
    decimal_comma = forms.ChoiceField(label="Decimal comma", choices=DECIMAL_COMMA_CHOICES)
    default_region = forms.CharField(label="Default phone region", required=False, max_length=2)

    def __init__(
        self, *args: Any, headers: list[str], fields: frozenset[str], matched: dict[str, str], base: ColumnMapping,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.base = base
        # Headers by position: a header's text cannot be a form field's name. Blank headers cannot be mapped.
        self.headers = {f"column_{position}": header for position, header in enumerate(headers) if header.strip()}
        choices = [(NOT_IMPORTED, "— not imported —"), *((name, name) for name in sorted(fields))]
        for name, header in self.headers.items():
            self.fields[name] = forms.ChoiceField(
                label=header, required=False, choices=choices, initial=matched.get(header, NOT_IMPORTED)
            )
        self.fields["date_order"].initial = base.date_order if base.date_order in DATE_ORDERS else "ymd"
        self.fields["decimal_comma"].initial = _decimal_comma_choice(base.decimal_comma)
        self.fields["default_region"].initial = base.default_region or ""

    def column_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.headers]

    def option_fields(self) -> list[forms.BoundField]:
        return [self["date_order"], self["decimal_comma"], self["default_region"]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen: dict[str, str] = {}
        for name, header in self.headers.items():
            target = cleaned.get(name) or NOT_IMPORTED
            if target == NOT_IMPORTED:
                continue
            if target in chosen.values():
                other = next(key for key, value in chosen.items() if value == target)
                self.add_error(name, f"{other!r} is already mapped onto {target}; map only one column onto it.")
                continue
            chosen[header] = target
        if self.errors:
            return cleaned
        if not chosen and not self.base.constants:
            raise forms.ValidationError("Map at least one column onto a field.")
        document = {
            **self.base.to_dict(),
            "columns": chosen,
            "date_order": cleaned["date_order"],
            "decimal_comma": _decimal_comma(cleaned["decimal_comma"]),
            "default_region": cleaned.get("default_region") or None,
        }
        try:
            cleaned["mapping"] = ColumnMapping.from_dict(document)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return cleaned


class ConfirmImportForm(forms.Form):
    """Step 3: import the previewed file. With invalid rows, nothing is written unless the user chooses otherwise."""

    valid_only = forms.BooleanField(
        label="Import the valid rows only", required=False,
        help_text="Leave unticked to refuse the whole file when any row is invalid: nothing is written.",
    )
    runs_automation = forms.BooleanField(
        label="Run journey rules on these rows", required=False,
        help_text="Leave unticked for history: the rules would move clients and send follow-ups for every row.",
    )


class RollbackForm(forms.Form):
    """The rollback page's confirmation; it has no fields, only the CSRF token and the button."""
