"""Reading Excel workbooks (.xlsx): the first sheet, its cells as the text a CSV export holds, row numbers as lines."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from core.errors import ApplicationError
from imports.kinds_fields import CUSTOMER_FIELDS
from imports.mapping import ColumnMapping
from imports.reader import open_source
from tests.imports.test_reader import OneWayStream


def workbook_bytes(rows: list[list], *, extra_sheet: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    if extra_sheet:
        workbook.create_sheet("Notes").append(["not", "read"])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


LEGACY_SHEET = [
    [],  # a blank first row, as spreadsheets often have above the header
    ["Code client", "Prénom", "Courriel", "Né(e) le", "Dépensé", "Actif", "Remarque", None],
    # Spreadsheet cells hold naive moments.
    ["C-1", "Hélène", " Helene@Example.FR ", dt.datetime(1985, 4, 12), 9450.5, True, "Cliente fidèle", None],  # noqa: DTZ001
    [None, None, None, None, None, None, None],
    ["C-2", "Marc", "marc@example.fr", dt.date(1990, 1, 2), 12, False, None, "stray"],
    ["C-3", "Léa", "lea@example.fr", dt.datetime(2026, 3, 2, 10, 30), 0.00001, None, 42],  # noqa: DTZ001
]
MAPPING = ColumnMapping(
    columns={"Code client": "crm_id", "Prénom": "first_name", "Courriel": "email", "Né(e) le": "birth_date",
             "Dépensé": "legacy_lifetime_value", "Remarque": "advisor_notes"}
)


def test_a_workbook_reads_like_a_csv_file_with_sheet_rows_as_lines(tmp_path):
    path = tmp_path / "clients.xlsx"
    path.write_bytes(workbook_bytes(LEGACY_SHEET, extra_sheet=True))

    table = open_source(path, fields=CUSTOMER_FIELDS, mapping=MAPPING)
    rows = list(table)

    assert (table.encoding, table.delimiter, table.header_line) == ("xlsx", "", 2)
    assert table.ignored_headers == ["Actif"]
    assert [row.line for row in rows] == [3, 5, 6]
    assert rows[0].values == {
        "crm_id": "C-1", "first_name": "Hélène", "email": "Helene@Example.FR", "birth_date": "1985-04-12",
        "legacy_lifetime_value": "9450.5", "advisor_notes": "Cliente fidèle",
    }
    assert rows[0].raw["Actif"] == "true"
    assert rows[1].values["birth_date"] == "1990-01-02"
    assert rows[1].values["legacy_lifetime_value"] == "12"
    assert rows[1].extra == ("stray",)
    assert rows[2].values["birth_date"] == "2026-03-02T10:30:00"
    assert rows[2].values["legacy_lifetime_value"] == "0.00001"
    assert Decimal(rows[2].values["legacy_lifetime_value"]) == Decimal("0.00001")
    assert rows[2].values["advisor_notes"] == "42"


def test_an_uploaded_workbook_that_cannot_seek_is_read(tmp_path):
    table = open_source(OneWayStream(workbook_bytes(LEGACY_SHEET)), fields=CUSTOMER_FIELDS, mapping=MAPPING)

    assert [row.values["crm_id"] for row in table] == ["C-1", "C-2", "C-3"]


def test_a_workbook_with_an_unknown_header_says_which_columns_it_has(tmp_path):
    path = tmp_path / "clients.xlsx"
    path.write_bytes(workbook_bytes([["Nom", "Ville"], ["Dupré", "Paris"]]))

    with pytest.raises(ApplicationError, match="None of the file's columns \\('Nom', 'Ville'\\)"):
        open_source(path, fields=CUSTOMER_FIELDS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (workbook_bytes([]), "The workbook's first sheet is empty: it has no header row naming its columns."),
        (b"PK\x03\x04" + b"\x00" * 200, "This is a zipped file but not an Excel workbook (.xlsx) that can be read"),
    ],
)
def test_empty_or_broken_workbooks_are_refused(tmp_path, content, message):
    path = tmp_path / "clients.xlsx"
    path.write_bytes(content)

    with pytest.raises(ApplicationError) as refused:
        open_source(path, fields=CUSTOMER_FIELDS)

    assert refused.value.message.startswith(message)
