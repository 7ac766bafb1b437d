"""Workbooks built to hang or flood the importer: what they declare is bounded (rows, columns, cells), their XML may
not carry a DTD or entities, a part may not unpack to a hundred times its size, and a run in the admin's own
request has a time bound. Each is refused with a clear message, never a hang or a 500. The hostile files are built
by hand with zipfile: no spreadsheet program writes them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from core.errors import ApplicationError
from customers.models import Advisor, Customer
from imports.kinds_fields import CUSTOMER_FIELDS
from imports.models import ImportBatch
from imports.reader import open_source
from imports.services import import_start, import_upload_store
from tests.desk.helpers import logged_in
from tests.factories import make_staff
from tests.imports.admin_flow import make_house, upload

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
PROLOG = '<?xml version="1.0" encoding="UTF-8"?>'
CONTENT_TYPES = (
    f'{PROLOG}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
ROOT_RELS = (
    f'{PROLOG}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
    f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'{PROLOG}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'{PROLOG}<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
    f'Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
# Three levels of entities: &lol3; is "lol" a hundred times (a billion-laughs file has ten levels).
ENTITIES = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)


def cell(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(rows: str, *, dimension: str | None = None, doctype: str = "", padding: str = "") -> str:
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'{PROLOG}{doctype}<worksheet xmlns="{MAIN}">{declared}<sheetData>{rows}{padding}</sheetData></worksheet>'


def workbook_file(sheet: str, *, workbook: str = WORKBOOK) -> bytes:
    """A minimal .xlsx (the five parts openpyxl needs), zipped as Excel does."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return stream.getvalue()


HEADER = f'<row r="1">{cell("A1", "email")}</row>'
# The file of the finding: 1.5 KB, declaring every cell of a sheet, with one cell in the last of them.
WHOLE_SHEET = workbook_file(
    sheet_xml(f'<row r="1048576">{cell("XFD1048576", "x")}</row>', dimension="A1:XFD1048576")
)
WITH_ENTITIES = workbook_file(
    sheet_xml(f'{HEADER}<row r="2">{cell("A2", "&lol3;")}</row>', dimension="A1:A2", doctype=ENTITIES)
)


def read(content: bytes, tmp_path: Path) -> list:
    path = tmp_path / "book.xlsx"
    path.write_bytes(content)
    return list(open_source(path, fields=CUSTOMER_FIELDS))


def test_the_whole_sheet_workbook_of_the_finding_is_refused_for_what_it_declares(tmp_path):
    assert len(WHOLE_SHEET) < 2_000

    with pytest.raises(ApplicationError) as refused:
        read(WHOLE_SHEET, tmp_path)

    assert refused.value.message == (
        "The workbook's first sheet declares 1048576 rows of 16384 columns (A1:XFD1048576); an import reads at most "
        "1048576 rows, 1024 columns and 25000000 cells. Delete the empty rows and columns around the data, or save "
        "the sheet as CSV."
    )


def test_a_row_reaching_past_the_column_limit_is_refused_when_the_sheet_declares_no_dimension(tmp_path):
    content = workbook_file(sheet_xml(f'{HEADER}<row r="1048576">{cell("XFD1048576", "x")}</row>'))

    with pytest.raises(ApplicationError) as refused:
        read(content, tmp_path)

    assert refused.value.message == (
        "Row 1048576 of the workbook's first sheet reaches column XFD (16384); an import reads at most 1024 "
        "columns. Delete the columns beyond the data, or save the sheet as CSV."
    )


def test_rows_past_the_row_limit_are_refused_whatever_the_sheet_declares(settings, tmp_path):
    settings.IMPORT_WORKBOOK_MAX_ROWS = 3
    rows = "".join(f'<row r="{line}">{cell(f"A{line}", f"c{line}@example.com")}</row>' for line in range(2, 6))
    content = workbook_file(sheet_xml(HEADER + rows, dimension="A1:A2"))

    with pytest.raises(ApplicationError) as refused:
        read(content, tmp_path)

    assert refused.value.message == (
        "The workbook's first sheet has more than 3 rows, the most an import reads. Split it, or save it as CSV."
    )


def test_cells_past_the_cell_limit_are_refused_as_declared_and_as_read(settings, tmp_path):
    settings.IMPORT_WORKBOOK_MAX_CELLS = 10
    table = [["email", "first_name", "last_name"], *([f"c{line}@example.com", "Ana", "Lee"] for line in range(3))]
    workbook = openpyxl.Workbook()
    for row in table:
        workbook.active.append(row)
    saved = io.BytesIO()
    workbook.save(saved)
    undeclared = "".join(
        f'<row r="{line}">' + "".join(cell(f"{column}{line}", value) for column, value in zip("ABC", row, strict=True))
        + "</row>"
        for line, row in enumerate(table, start=1)
    )

    with pytest.raises(ApplicationError) as declared:
        read(saved.getvalue(), tmp_path)
    with pytest.raises(ApplicationError) as counted:
        read(workbook_file(sheet_xml(undeclared)), tmp_path)

    assert declared.value.message == (
        "The workbook's first sheet declares 4 rows of 3 columns (A1:C4); an import reads at most 1048576 rows, "
        "1024 columns and 10 cells. Delete the empty rows and columns around the data, or save the sheet as CSV."
    )
    assert counted.value.message == (
        "The workbook's first sheet has more than 10 cells, the most an import reads. Split it, or save it as CSV."
    )


@pytest.mark.parametrize(
    ("part", "content"),
    [
        ("xl/worksheets/sheet1.xml", WITH_ENTITIES),
        ("xl/workbook.xml", workbook_file(sheet_xml(HEADER), workbook=WORKBOOK.replace(PROLOG, PROLOG + ENTITIES))),
        ("xl/worksheets/sheet1.xml", workbook_file(sheet_xml(HEADER, doctype='<!DOCTYPE worksheet SYSTEM "x.dtd">'))),
    ],
)
def test_a_workbook_whose_xml_declares_a_dtd_or_entities_is_refused_before_any_is_expanded(part, content, tmp_path):
    with pytest.raises(ApplicationError) as refused:
        read(content, tmp_path)

    assert refused.value.message == (
        f"The workbook's part {part} declares a DTD (<!DOCTYPE …>), which no spreadsheet program writes and an "
        "import never reads (its entities could expand without end). Save the file again from Excel, or as CSV."
    )


def test_a_part_that_unpacks_to_more_than_a_hundred_times_its_size_is_refused(tmp_path):
    content = workbook_file(sheet_xml(HEADER, padding=" " * (8 * 1024 * 1024)))

    with pytest.raises(ApplicationError) as refused:
        read(content, tmp_path)

    assert refused.value.message.startswith(
        "The workbook's part xl/worksheets/sheet1.xml unpacks to 8388"
    )
    assert refused.value.message.endswith(
        "times what it takes in the file; an import refuses a part that unpacks to more than 100 times its packed "
        "size (a zip bomb). Save the file again from Excel, or as CSV."
    )


def test_a_sheet_whose_xml_breaks_part_way_is_refused_with_the_last_row_read(tmp_path):
    rows = "".join(f'<row r="{line}">{cell(f"A{line}", f"c{line}@example.com")}</row>' for line in range(2, 5))
    broken = f'<row r="5">{cell("A5", "&undefined;")}</row>'
    content = workbook_file(sheet_xml(HEADER + rows + broken, dimension="A1:A5"))

    with pytest.raises(ApplicationError) as refused:
        read(content, tmp_path)

    assert refused.value.message == (
        "The workbook's first sheet cannot be read past row 4; save it again as .xlsx or CSV."
    )


# --- through the admin: a message on the upload page, never a 500 or a hung request ---------------------------


@pytest.fixture
def head_office(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    make_house()
    return logged_in(make_staff(Advisor.Role.HEAD_OFFICE))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (WHOLE_SHEET, "The workbook's first sheet declares 1048576 rows of 16384 columns (A1:XFD1048576)"),
        (WITH_ENTITIES, "The workbook's part xl/worksheets/sheet1.xml declares a DTD (<!DOCTYPE …>)"),
    ],
)
def test_a_hostile_workbook_uploaded_in_the_admin_is_a_form_error_on_the_file(head_office, content, reason, tmp_path):
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(content)

    response = upload(head_office, path)

    assert response.status_code == 200
    [error] = response.context["form"].errors["file"]
    assert error.startswith(reason)
    assert ImportBatch.objects.count() == 0
    assert not (tmp_path / "media").exists()  # nothing stored


@pytest.mark.django_db
def test_a_run_in_the_request_that_outlasts_its_time_bound_fails_with_the_reason_and_writes_nothing(
    settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.IMPORT_INLINE_MAX_SECONDS = 0
    stored = import_upload_store(upload=io.BytesIO(b"email\nana@example.com\n"), file_name="clients.csv")

    with pytest.raises(ApplicationError) as refused:
        import_start(kind="customers", stored=stored, file_name="clients.csv", dry_run=True)

    message = (
        "Reading this file in the page took longer than 0 seconds (IMPORT_INLINE_MAX_SECONDS), so it was stopped "
        "and nothing was written. Save it as CSV without what it does not need (empty rows and columns, other "
        "sheets), or import it from the command line."
    )
    assert refused.value.message == message
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.failure, batch.is_dry_run) == (ImportBatch.Status.FAILED, message, True)
    assert Customer.objects.count() == 0
    assert batch.row_errors.count() == 0
