"""Reading messy legacy files: encodings, delimiters, line numbers, blank lines, extra columns, column mappings."""

from __future__ import annotations

import codecs
import io
import json
import resource
from pathlib import Path

import psutil
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import ApplicationError
from imports.kinds_fields import CUSTOMER_FIELDS
from imports.mapping import ColumnMapping
from imports.reader import SAMPLE_SIZE, SourceRow, open_source

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY_CRM = FIXTURES / "legacy_crm_latin1_semicolon.csv"
ECOMMERCE = FIXTURES / "ecommerce_utf8_bom.csv"
POS = FIXTURES / "pos_tab_mdy.tsv"
FIELDS = {"external_id", "first_name", "last_name", "email", "phone", "advisor_notes", "source"}


def legacy_mapping() -> ColumnMapping:
    return ColumnMapping.from_file(FIXTURES / "mapping_legacy_crm.yaml")


def write(tmp_path: Path, content: bytes, name: str = "clients.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


class OneWayStream(io.RawIOBase):
    """An upload that cannot be rewound, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


# --- The fixture files ------------------------------------------------------------------------------------------


def test_legacy_crm_export_is_read_as_windows_1252_with_semicolons_and_its_french_headers_mapped():
    table = open_source(LEGACY_CRM, fields=CUSTOMER_FIELDS, mapping=legacy_mapping())

    assert (table.encoding, table.delimiter, table.header_line) == ("cp1252", ";", 1)
    assert table.headers == [
        "Code client", "Civilité", "Nom", "Prénom", "Courriel", "Téléphone", "Date de naissance", "Boutique",
        "Conseiller", "Segment", "Langue", "Ville", "Pays", "Consentement email", "Consentement SMS", "Tailles",
        "Catégories préférées", "Remarques", "Dernier achat", "CA total", "",
    ]  # fmt: skip
    assert table.mapped == {
        "Code client": "external_id", "Nom": "last_name", "Prénom": "first_name", "Courriel": "email",
        "Téléphone": "phone", "Date de naissance": "birth_date", "Boutique": "home_boutique", "Conseiller": "advisor",
        "Segment": "persona", "Langue": "language", "Ville": "city", "Pays": "country",
        "Consentement email": "email_marketing", "Consentement SMS": "sms_marketing", "Tailles": "preferences_sizes",
        "Catégories préférées": "preferences_categories", "Remarques": "advisor_notes",
        "Dernier achat": "legacy_last_order_date", "CA total": "legacy_lifetime_value",
    }  # fmt: skip
    # The title is not kept, and the trailing semicolon makes an unnamed empty column.
    assert table.ignored_headers == ["Civilité", ""]
    assert table.header_for["email"] == "Courriel"


def test_legacy_crm_rows_keep_their_physical_line_numbers_skip_the_blank_line_and_keep_the_duplicate():
    rows = list(open_source(LEGACY_CRM, fields=CUSTOMER_FIELDS, mapping=legacy_mapping()))

    # Line 3's note runs onto line 4; line 5 is blank; line 8 repeats line 6 (the pipeline decides about it).
    assert [(row.line, row.values["external_id"]) for row in rows] == [
        (2, "CRM-000101"), (3, "CRM-000102"), (6, "CRM-000103"), (7, "CRM-000104"), (8, "CRM-000103"),
        (9, "CRM-000105"),
    ]  # fmt: skip
    assert rows[4].values == rows[2].values
    assert rows[0].values == {
        "external_id": "CRM-000101", "last_name": "Dupré", "first_name": "Hélène", "email": "Helene.Dupre@Example.FR",
        "phone": "06 12 34 56 78", "birth_date": "07/03/1984", "home_boutique": "PAR-FSH",
        "advisor": "claire.martin@maison.example", "persona": "Collectionneuse", "language": "fr", "city": "Paris",
        "country": "FR", "email_marketing": "oui", "sms_marketing": "non", "preferences_sizes": "36, 38",
        "preferences_categories": "Maroquinerie, Joaillerie",
        "advisor_notes": "Préfère être appelée le matin; allergique au nickel", "legacy_last_order_date": "14/02/2024",
        "legacy_lifetime_value": "12\xa0450,00 €", "source": "crm",
    }  # fmt: skip
    assert rows[1].values["advisor_notes"] == (
        "Cliente fidèle depuis 2009.\r\nVient avec sa fille ; aime la ligne « Cœur » en or rose"
    )
    assert rows[5].values["advisor_notes"] == 'Avoir suite à un retour : "écharpe" ; à solder'
    assert rows[2].values["advisor_notes"] == "Conseillère d’honneur : Sophie"


def test_raw_cells_are_keyed_by_the_files_own_headers_and_left_unstripped():
    first = next(iter(open_source(LEGACY_CRM, fields=CUSTOMER_FIELDS, mapping=legacy_mapping())))

    assert first.raw["Courriel"] == " Helene.Dupre@Example.FR "
    assert first.raw["Civilité"] == "Mme"
    assert first.raw[""] == ""
    assert len(first.raw) == 21
    assert first.extra == ()


def test_ecommerce_export_with_a_bom_and_atelier_headers_needs_no_mapping():
    table = open_source(ECOMMERCE, fields=CUSTOMER_FIELDS)
    rows = list(table)

    assert (table.encoding, table.delimiter) == ("utf-8-sig", ",")
    assert table.headers[0] == "source"
    assert table.ignored_headers == []
    assert list(table.mapped.values()) == table.headers
    assert [row.line for row in rows] == [2, 3, 4, 5]
    assert rows[0].values["first_name"] == "Åsa"
    assert rows[0].values["email_marketing_at"] == "2023-11-02T10:15:00+01:00"
    assert rows[2].values["last_name"] == "Álvarez, Jr."
    # The last row has no newline after it.
    assert rows[3].values == {
        "source": "ecommerce", "external_id": "EC-58216", "first_name": "美咲", "last_name": "佐藤",
        "email": "misaki.sato@example.jp", "phone": "+81 90 1234 5678", "birth_date": "1995-07-07", "city": "東京",
        "country": "JP", "language": "ja", "email_marketing": "", "email_marketing_at": "",
        "legacy_lifetime_value": "1,250.00", "legacy_last_order_date": "2023-12-24",
    }  # fmt: skip


def test_pos_export_is_read_as_tabs_with_its_json_mapping_extra_cells_kept_apart_and_short_rows_padded():
    mapping = ColumnMapping.from_file(FIXTURES / "mapping_pos.json")
    table = open_source(POS, fields=CUSTOMER_FIELDS, mapping=mapping)
    rows = list(table)

    assert (table.encoding, table.delimiter) == ("utf-8", "\t")
    assert [row.line for row in rows] == [2, 3, 5, 6]
    assert rows[0].values["first_name"] == "Renée"
    assert rows[1].values["email"] == "MARCUS.OBRIEN@EXAMPLE.COM"
    assert rows[2].extra == ("VIP", "call before visiting")
    assert "VIP" not in rows[2].values.values()
    assert rows[3] == SourceRow(
        line=6,
        values={
            "external_id": "P-10004", "first_name": "Daniel", "last_name": "Kim", "email": "daniel.kim@example.com",
            "phone": "", "birth_date": "", "home_boutique": "", "sms_marketing": "", "legacy_lifetime_value": "",
            "legacy_last_order_date": "", "source": "pos",
        },
        raw={
            "Customer No": "P-10004", "First Name": "Daniel", "Last Name": "Kim", "E-mail": "daniel.kim@example.com",
            "Mobile": "", "DOB": "", "Store": "", "SMS Opt-in": "", "Lifetime Spend": "", "Last Purchase": "",
        },
        extra=(),
    )  # fmt: skip


# --- Encodings --------------------------------------------------------------------------------------------------


def test_given_encoding_wins_over_detection():
    table = open_source(LEGACY_CRM, fields=CUSTOMER_FIELDS, mapping=legacy_mapping(), encoding="latin-1")

    assert table.encoding == "iso8859-1"
    # Latin-1 has no euro sign: byte 0x80 becomes a control character, as the user asked.
    assert next(iter(table)).values["legacy_lifetime_value"] == "12\xa0450,00 \x80"


@pytest.mark.parametrize(
    ("codec", "bom", "expected"),
    [
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
        ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32"),
    ],
)
def test_a_byte_order_mark_decides_the_encoding(tmp_path, codec, bom, expected):
    content = "email;first_name\r\nzoe@example.fr;Zoë\r\n"
    path = write(tmp_path, bom + content.encode(codec))

    table = open_source(path, fields=FIELDS)

    assert (table.encoding, table.delimiter, table.headers) == (expected, ";", ["email", "first_name"])
    assert list(table) == [SourceRow(2, {"email": "zoe@example.fr", "first_name": "Zoë"}, {
        "email": "zoe@example.fr", "first_name": "Zoë"})]  # fmt: skip


def test_given_utf_8_on_a_file_with_a_bom_does_not_keep_the_bom_in_the_first_header(tmp_path):
    path = write(tmp_path, codecs.BOM_UTF8 + b"Email\nzoe@example.fr\n")

    table = open_source(path, fields=FIELDS, encoding="UTF8")

    assert (table.encoding, table.headers, table.mapped) == ("utf-8-sig", ["Email"], {"Email": "email"})


def test_utf_8_without_a_bom_is_recognised(tmp_path):
    path = write(tmp_path, "first_name,last_name\nHélène,Dupré\n".encode())

    table = open_source(path, fields=FIELDS)

    assert table.encoding == "utf-8"
    assert [row.values for row in table] == [{"first_name": "Hélène", "last_name": "Dupré"}]


def test_a_character_cut_by_the_end_of_the_sample_is_not_taken_for_windows_1252(tmp_path):
    header = b"first_name,last_name\n"
    filler = b"Anna,Smith\n" * ((SAMPLE_SIZE - len(header)) // 11)
    padding = b"x" * (SAMPLE_SIZE - len(header) - len(filler) - 1)
    # "é" is two bytes in UTF-8: the first is the sample's last byte, the second the next byte.
    content = header + filler + padding + "é,Dupré\n".encode()
    assert content[SAMPLE_SIZE - 1 : SAMPLE_SIZE + 1] == "é".encode()

    table = open_source(write(tmp_path, content), fields=FIELDS)
    rows = list(table)

    assert table.encoding == "utf-8"
    assert rows[-1].values == {"first_name": padding.decode() + "é", "last_name": "Dupré"}


def test_windows_1252_is_the_fallback_when_the_start_is_not_utf_8(tmp_path):
    path = write(tmp_path, "Prénom;Nom\r\nZoë;Œuvre ’s\r\n".encode("cp1252"))

    table = open_source(
        path, fields=FIELDS, mapping=ColumnMapping(columns={"Prénom": "first_name", "Nom": "last_name"})
    )

    assert table.encoding == "cp1252"
    assert [row.values for row in table] == [{"first_name": "Zoë", "last_name": "Œuvre ’s"}]


def test_latin_1_is_the_fallback_for_bytes_windows_1252_leaves_undefined(tmp_path):
    path = write(tmp_path, b"first_name;last_name\r\nZo\xeb;A\x81B\r\n")

    table = open_source(path, fields=FIELDS)

    assert table.encoding == "iso8859-1"
    assert [row.values for row in table] == [{"first_name": "Zoë", "last_name": "A\x81B"}]


def test_invalid_utf_8_past_the_sample_is_refused_naming_its_line_and_suggesting_an_encoding(tmp_path):
    lines = [b"first_name,last_name\n"] + [b"Anna,Smith\n"] * 8000 + ["Zoë,Dupré\n".encode("cp1252")]
    path = write(tmp_path, b"".join(lines) + b"Anna,Smith\n" * 10)
    table = open_source(path, fields=FIELDS)
    assert table.encoding == "utf-8"

    with pytest.raises(ApplicationError) as refused:
        list(table)

    assert refused.value.message == (
        "Line 8002 is not valid UTF-8 text (byte 0xEB): the file is in another encoding. "
        "Give its encoding, for example --encoding cp1252."
    )
    assert refused.value.extra == {"line": 8002, "encoding": "utf-8"}


def test_a_given_encoding_that_does_not_fit_the_start_is_refused_at_once_with_the_line():
    with pytest.raises(ApplicationError) as refused:
        open_source(LEGACY_CRM, fields=CUSTOMER_FIELDS, mapping=legacy_mapping(), encoding="utf-8")

    assert refused.value.message == (
        "Line 1 is not valid UTF-8 text (byte 0xE9): the file is in another encoding. "
        "Give its encoding, for example --encoding cp1252."
    )


def test_an_unknown_encoding_is_refused():
    with pytest.raises(ApplicationError) as refused:
        open_source(LEGACY_CRM, fields=CUSTOMER_FIELDS, encoding="klingon")

    assert refused.value.message == "'klingon' is not an encoding Python knows; try utf-8, cp1252 or latin-1."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"PK\x03\x04\x14\x00\x06\x00",
            "This is a zipped file but not an Excel workbook (.xlsx) that can be read; save it as .xlsx or CSV.",
        ),
        (
            b"email\x00,name\n",
            "This does not look like a text (CSV) file: it holds NUL bytes. "
            "If it is UTF-16 without a byte order mark, give --encoding utf-16.",
        ),
        (b"", "The file is empty: it has no header line naming its columns."),
        (b"\r\n;;;\r\n  \r\n", "The file is empty: it has no header line naming its columns."),
    ],
)
def test_files_that_are_not_csv_or_have_no_header_are_refused(tmp_path, content, message):
    with pytest.raises(ApplicationError) as refused:
        open_source(write(tmp_path, content), fields=FIELDS)

    assert refused.value.message == message


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ApplicationError) as refused:
        open_source(tmp_path / "nowhere.csv", fields=FIELDS)

    assert refused.value.message == f"{tmp_path / 'nowhere.csv'} does not exist."


# --- Delimiters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(tmp_path, delimiter):
    lines = [["external_id", "first_name", "email"], ["C-1", "Hélène", "h@example.fr"], ["C-2", "Zoë", "z@example.fr"]]
    path = write(tmp_path, "".join(delimiter.join(line) + "\n" for line in lines).encode())

    table = open_source(path, fields=FIELDS)

    assert table.delimiter == delimiter
    assert [row.values["first_name"] for row in table] == ["Hélène", "Zoë"]


def test_decimal_commas_do_not_fool_the_sniffer_in_a_semicolon_file(tmp_path):
    content = "external_id;legacy_lifetime_value\nC-1;12,50\nC-2;980,00\nC-3;1,5\n"

    table = open_source(write(tmp_path, content.encode()), fields={"external_id", "legacy_lifetime_value"})

    assert table.delimiter == ";"
    assert [row.values["legacy_lifetime_value"] for row in table] == ["12,50", "980,00", "1,5"]


def test_semicolons_inside_notes_do_not_fool_the_sniffer_in_a_comma_file(tmp_path):
    content = (
        "external_id,advisor_notes,email\n"
        "C-1,rappeler; mardi; pas avant 10h,a@example.fr\n"
        "C-2,taille 38; prefere le cuir; fidèle,b@example.fr\n"
        "C-3,RAS,c@example.fr\n"
    )

    table = open_source(write(tmp_path, content.encode()), fields=FIELDS)

    assert table.delimiter == ","
    assert [row.values["advisor_notes"] for row in table] == [
        "rappeler; mardi; pas avant 10h",
        "taille 38; prefere le cuir; fidèle",
        "RAS",
    ]


@pytest.mark.parametrize(
    ("given", "expected", "headers"),
    [
        (",", ",", ["email", "phone;first_name\tlast_name|source"]),
        (";", ";", ["email,phone", "first_name\tlast_name|source"]),
        ("tab", "\t", ["email,phone;first_name", "last_name|source"]),
        ("\\t", "\t", ["email,phone;first_name", "last_name|source"]),
        ("|", "|", ["email,phone;first_name\tlast_name", "source"]),
    ],
)
def test_given_delimiter_wins(tmp_path, given, expected, headers):
    path = write(tmp_path, b"email,phone;first_name\tlast_name|source\n")
    mapping = ColumnMapping(columns={headers[0]: "email"})

    table = open_source(path, fields=FIELDS, mapping=mapping, delimiter=given)

    assert (table.delimiter, table.headers) == (expected, headers)


def test_a_delimiter_of_more_than_one_character_is_refused(tmp_path):
    with pytest.raises(ApplicationError) as refused:
        open_source(write(tmp_path, b"email\n"), fields=FIELDS, delimiter=";;")

    assert refused.value.message == "';;' is not a delimiter; give one character (or tab)."


# --- Lines, blank rows, extra and missing cells ---------------------------------------------------------------


def test_line_numbers_count_newlines_inside_quoted_cells_and_leading_blank_lines(tmp_path):
    content = (
        "\r\n"
        "\r\n"
        "external_id,advisor_notes\r\n"
        'C-1,"first line\r\nsecond line\r\nthird line"\r\n'
        "C-2,plain\r\n"
        '"C-3","quoted ""twice""\nwith a bare LF"\r\n'
        "C-4,last\r\n"
    )

    table = open_source(write(tmp_path, content.encode()), fields=FIELDS)
    rows = list(table)

    assert table.header_line == 3
    assert [(row.line, row.values["external_id"]) for row in rows] == [(4, "C-1"), (7, "C-2"), (8, "C-3"), (10, "C-4")]
    assert rows[2].values["advisor_notes"] == 'quoted "twice"\nwith a bare LF'


@pytest.mark.parametrize("blank", ["", ",,", " , ,\t", '"",""'])
def test_blank_lines_are_skipped_and_do_not_shift_line_numbers(tmp_path, blank):
    content = f"external_id,email,first_name\nC-1,a@example.fr,Ann\n{blank}\nC-2,b@example.fr,Bob\n"

    rows = list(open_source(write(tmp_path, content.encode()), fields=FIELDS))

    assert [(row.line, row.values["external_id"]) for row in rows] == [(2, "C-1"), (4, "C-2")]


def test_cells_past_the_last_header_stay_out_of_the_values_and_trailing_empty_ones_are_dropped(tmp_path):
    content = "external_id,email\nC-1,a@example.fr,,\nC-2,b@example.fr,surprise,\nC-3,c@example.fr, , x ,\n"

    rows = list(open_source(write(tmp_path, content.encode()), fields=FIELDS))

    assert [(row.values, row.extra) for row in rows] == [
        ({"external_id": "C-1", "email": "a@example.fr"}, ()),
        ({"external_id": "C-2", "email": "b@example.fr"}, ("surprise",)),
        ({"external_id": "C-3", "email": "c@example.fr"}, (" ", " x ")),
    ]
    assert rows[1].raw == {"external_id": "C-2", "email": "b@example.fr"}


def test_values_are_stripped_of_spaces_including_non_breaking_ones(tmp_path):
    content = "external_id,email\n C-1\xa0,\t Zoe@Example.FR  \n"

    (row,) = open_source(write(tmp_path, content.encode()), fields=FIELDS)

    assert row.values == {"external_id": "C-1", "email": "Zoe@Example.FR"}
    assert row.raw == {"external_id": " C-1\xa0", "email": "\t Zoe@Example.FR  "}


def test_an_unclosed_quote_is_refused_naming_the_line_where_it_opens(tmp_path):
    content = 'external_id,advisor_notes\nC-1,fine\nC-2,"never closed\n' + "C-3,some text that goes on\n" * 6000

    table = open_source(write(tmp_path, content.encode()), fields=FIELDS)
    with pytest.raises(ApplicationError) as refused:
        list(table)

    assert refused.value.message == (
        "Line 3 cannot be read as CSV: a cell is longer than 131072 characters; "
        'a quote (") is probably opened on this line and never closed.'
    )


def test_unmapped_columns_with_the_same_header_keep_every_cell_in_raw(tmp_path):
    content = "email,Note,Note,\na@example.fr,one,two,three\n"

    table = open_source(write(tmp_path, content.encode()), fields=FIELDS)
    (row,) = table

    assert table.ignored_headers == ["Note", "Note", ""]
    assert row.raw == {"email": "a@example.fr", "Note": "one", "Note (column 3)": "two", "": "three"}


# --- Headers and the column mapping ---------------------------------------------------------------------------


def test_headers_match_ignoring_case_surrounding_spaces_a_bom_and_accent_composition(tmp_path):
    # "Pre\u0301nom" is "Prénom" with a combining accent, as a Mac may save it; "\ufeff" a BOM left in a header.
    content = "\ufeff COURRIEL ;Pre\u0301nom;  First_Name  ;Nom   de famille\nz@example.fr;Zoë;x;Dupré\n"
    mapping = ColumnMapping(columns={"Courriel": "email", "Prénom": "first_name", "nom de famille": "last_name"})

    table = open_source(write(tmp_path, content.encode()), fields=FIELDS, mapping=mapping)

    assert table.mapped == {" COURRIEL ": "email", "Pre\u0301nom": "first_name", "Nom   de famille": "last_name"}
    # "First_Name" bears a field's name, but the mapping already feeds first_name from "Prénom".
    assert table.ignored_headers == ["  First_Name  "]
    assert [row.values for row in table] == [{"email": "z@example.fr", "first_name": "Zoë", "last_name": "Dupré"}]


def test_headers_that_are_field_names_are_taken_alongside_the_mapping(tmp_path):
    content = "Courriel,FIRST_NAME,Last_Name\nz@example.fr,Zoë,Dupré\n"

    table = open_source(
        write(tmp_path, content.encode()), fields=FIELDS, mapping=ColumnMapping(columns={"Courriel": "email"})
    )

    assert table.mapped == {"Courriel": "email", "FIRST_NAME": "first_name", "Last_Name": "last_name"}


def test_constants_are_set_on_every_row_and_win_over_a_column_of_that_name(tmp_path):
    content = "email,source\na@example.fr,pos\nb@example.fr,\n"
    mapping = ColumnMapping(constants={"source": "crm"})

    table = open_source(write(tmp_path, content.encode()), fields=FIELDS, mapping=mapping)

    assert table.ignored_headers == ["source"]
    assert [row.values for row in table] == [
        {"email": "a@example.fr", "source": "crm"},
        {"email": "b@example.fr", "source": "crm"},
    ]


def test_a_mapped_column_the_file_lacks_is_refused_listing_the_files_columns(tmp_path):
    mapping = ColumnMapping(columns={"Courriel": "email", "Portable": "phone"})

    with pytest.raises(ApplicationError) as refused:
        open_source(write(tmp_path, b"Courriel;Nom\na@example.fr;Ann\n"), fields=FIELDS, mapping=mapping)

    assert refused.value.message == (
        "The column mapping names the column 'Portable', which the file does not have. "
        "The file's columns: 'Courriel', 'Nom'."
    )


@pytest.mark.parametrize(
    ("content", "columns", "message"),
    [
        (
            b"email,Email\na@example.fr,b@example.fr\n",
            {},
            "The file has two columns for 'email': 'email' (column 1) and 'Email' (column 2). "
            "Remove one, or map only one of them.",
        ),
        (
            b"Courriel,COURRIEL \na@example.fr,b@example.fr\n",
            {"Courriel": "email"},
            "The file has two columns for 'email': 'Courriel' (column 1) and 'COURRIEL ' (column 2). "
            "Remove one, or map only one of them.",
        ),
        (
            b"Courriel,Mail\na@example.fr,b@example.fr\n",
            {"Courriel": "email", "Mail": "email"},
            "The file has two columns for 'email': 'Courriel' (column 1) and 'Mail' (column 2). "
            "Remove one, or map only one of them.",
        ),
    ],
)
def test_two_columns_for_one_field_are_refused(tmp_path, content, columns, message):
    with pytest.raises(ApplicationError) as refused:
        open_source(write(tmp_path, content), fields=FIELDS, mapping=ColumnMapping(columns=columns))

    assert refused.value.message == message


def test_a_file_without_a_header_line_is_refused_listing_the_fields(tmp_path):
    with pytest.raises(ApplicationError) as refused:
        open_source(write(tmp_path, b"C-1,a@example.fr\nC-2,b@example.fr\n"), fields={"external_id", "email"})

    assert refused.value.message == (
        "None of the file's columns ('C-1', 'a@example.fr') is an Atelier field or named in the column mapping. "
        "Is the header line missing, or the mapping? Fields: email, external_id."
    )


def test_a_mapping_onto_a_field_the_kind_does_not_have_is_refused_before_reading(tmp_path):
    mapping = ColumnMapping(columns={"Courriel": "e_mail"})

    with pytest.raises(ApplicationError) as refused:
        open_source(tmp_path / "not-even-read.csv", fields={"email", "phone"}, mapping=mapping)

    assert refused.value.message == (
        "Column mapping, columns: 'Courriel' is mapped onto 'e_mail', which is not a field here. Fields: email, phone."
    )


def test_legacy_crm_mapping_file_reads_into_its_settings():
    mapping = legacy_mapping()

    assert (mapping.date_order, mapping.decimal_comma, mapping.default_region) == ("dmy", True, "FR")
    assert mapping.constants == {"source": "crm"}
    assert len(mapping.columns) == 19
    assert mapping.columns["Catégories préférées"] == "preferences_categories"
    mapping.validate_for(CUSTOMER_FIELDS)


def test_json_mapping_file_reads_like_yaml():
    mapping = ColumnMapping.from_file(FIXTURES / "mapping_pos.json")

    assert mapping.to_dict() == json.loads((FIXTURES / "mapping_pos.json").read_text())


def test_a_mapping_without_settings_reads_with_defaults():
    assert ColumnMapping.from_dict({}) == ColumnMapping(
        columns={}, date_order="ymd", decimal_comma=None, default_region=None, constants={}
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colums": {}}, "Column mapping, colums: unknown key; a mapping has columns, date_order, decimal_comma, "
                         "default_region, constants."),
        ({"date_order": "dym"}, "Column mapping, date_order: 'dym' is not one of ymd, dmy, mdy."),
        ({"decimal_comma": "yes"}, "Column mapping, decimal_comma: 'yes' must be true, false or left out."),
        ({"default_region": "FRA"}, "Column mapping, default_region: 'FRA' is not a two-letter country code."),
        ({"columns": ["Nom", "Prénom"]}, "Column mapping, columns: must map each header of the file onto an Atelier "
                                         "field."),
        ({"columns": {True: "email_marketing"}}, "Column mapping, columns: the header True is not text; put it in "
                                                 "quotes."),
        ({"columns": {"Nom": None}}, "Column mapping, columns: 'Nom' must be mapped onto a field name, not None."),
        ({"columns": {"Nom": "last_name", " NOM": "first_name"}}, "Column mapping, columns: 'Nom' and ' NOM' are the "
                                                                  "same header."),
        ({"constants": {"source": ["crm"]}}, "Column mapping, constants: the value of 'source' must be text, not "
                                             "['crm']."),
        ({"columns": {"Origine": "source"}, "constants": {"source": "crm"}}, "Column mapping, constants: 'source' is "
                                                                             "also mapped from a column; keep one of "
                                                                             "the two."),
        ([("Nom", "last_name")], "A column mapping must be an object with keys: columns, date_order, decimal_comma, "
                                 "default_region, constants."),
    ],
)  # fmt: skip
def test_mistakes_in_a_mapping_are_refused_naming_the_key(data, message):
    with pytest.raises(ApplicationError) as refused:
        ColumnMapping.from_dict(data)

    assert refused.value.message == message


def test_a_mapping_built_in_code_still_refuses_an_unknown_date_order():
    with pytest.raises(ApplicationError) as refused:
        ColumnMapping(date_order="ydm")

    assert refused.value.message == "Column mapping, date_order: 'ydm' is not one of ymd, dmy, mdy."


def test_an_unquoted_yes_header_in_yaml_is_refused_rather_than_read_as_a_boolean(tmp_path):
    path = write(tmp_path, b"columns:\n  Yes: email_marketing\n", name="mapping.yaml")

    with pytest.raises(ApplicationError) as refused:
        ColumnMapping.from_file(path)

    assert refused.value.message == "Column mapping, columns: the header True is not text; put it in quotes."


def test_yaml_booleans_and_numbers_in_constants_become_the_words_the_parsers_read(tmp_path):
    path = write(tmp_path, b"constants:\n  email_marketing: yes\n  language: 7\n", name="mapping.yml")

    assert ColumnMapping.from_file(path).constants == {"email_marketing": "yes", "language": "7"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("mapping.txt", b"columns: {}", "Column mapping mapping.txt: use a .yaml, .yml or .json file."),
        ("mapping.json", b"{columns: 1}", "Column mapping mapping.json cannot be read: Expecting property name "
                                          "enclosed in double quotes: line 1 column 2 (char 1)"),
        ("mapping.yaml", b"columns: [unclosed", "Column mapping mapping.yaml cannot be read: while parsing a flow "
                                                "sequence"),
    ],
)  # fmt: skip
def test_unreadable_mapping_files_are_refused(tmp_path, name, content, message):
    with pytest.raises(ApplicationError) as refused:
        ColumnMapping.from_file(write(tmp_path, content, name=name))

    # PyYAML's own explanation follows (where, what it expected); it is its wording, not ours.
    assert refused.value.message.startswith(message)


def test_a_mapping_applied_to_the_ecommerce_file_checks_its_fields():
    mapping = ColumnMapping(columns={"city": "town"})

    with pytest.raises(ApplicationError) as refused:
        mapping.validate_for({"city", "email"})

    assert refused.value.message == (
        "Column mapping, columns: 'city' is mapped onto 'town', which is not a field here. Fields: city, email."
    )
    assert refused.value.fields == {"columns": ["'city' is mapped onto 'town', which is not a field here. Fields: "
                                                "city, email."]}  # fmt: skip


# --- Streams ----------------------------------------------------------------------------------------------------


def test_a_callers_seekable_stream_can_be_read_twice_and_is_left_open():
    stream = io.BytesIO(LEGACY_CRM.read_bytes())

    table = open_source(stream, fields=CUSTOMER_FIELDS, mapping=legacy_mapping())
    first, second = list(table), list(table)

    assert [row.line for row in first] == [2, 3, 6, 7, 8, 9]
    assert first == second
    assert stream.closed is False


def test_a_stream_that_cannot_be_rewound_is_read_once_from_its_start():
    stream = OneWayStream(POS.read_bytes())

    table = open_source(stream, fields=CUSTOMER_FIELDS, mapping=ColumnMapping.from_file(FIXTURES / "mapping_pos.json"))
    rows = list(table)

    assert table.delimiter == "\t"
    assert [row.line for row in rows] == [2, 3, 5, 6]
    assert rows[0].values["external_id"] == "P-10001"
    with pytest.raises(ApplicationError) as refused:
        list(table)
    assert refused.value.message == "This upload cannot be rewound, so it can be read only once."


def test_a_django_upload_is_read_like_a_file():
    upload = SimpleUploadedFile("clients.csv", LEGACY_CRM.read_bytes(), content_type="text/csv")

    table = open_source(upload, fields=CUSTOMER_FIELDS, mapping=legacy_mapping())

    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    assert [row.line for row in table] == [2, 3, 6, 7, 8, 9]
    assert upload.closed is False


def test_a_stream_is_read_from_where_the_caller_left_it():
    stream = io.BytesIO(b"ignored preamble\n" + b"email\na@example.fr\n")
    stream.seek(len(b"ignored preamble\n"))

    table = open_source(stream, fields=FIELDS)

    assert [row.values for row in table] == [{"email": "a@example.fr"}]
    assert [row.values for row in table] == [{"email": "a@example.fr"}]


# --- Memory -----------------------------------------------------------------------------------------------------


def test_a_200_mb_file_streams_through_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.csv"
    row = (
        "CRM-{:08d};Hélène;Dupré-Lefèvre;helene.dupre{:08d}@example.fr;06 12 34 56 78;07/03/1984;"
        '"Préfère être appelée le matin;\r\nallergique au nickel";12\xa0450,00 €\r\n'
    )
    written = rows_written = 0
    with path.open("wb") as file:
        file.write(
            "external_id;first_name;last_name;email;phone;birth_date;advisor_notes;legacy_lifetime_value\r\n".encode(
                "cp1252"
            )
        )
        while written < 200 * 1024 * 1024:
            chunk = "".join(row.format(rows_written + n, rows_written + n) for n in range(10_000)).encode("cp1252")
            file.write(chunk)
            written += len(chunk)
            rows_written += 10_000
    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    highest, count, last = rss_before, 0, None
    try:
        table = open_source(path, fields=CUSTOMER_FIELDS)
        for row in table:
            count, last = count + 1, row
            if count % 50_000 == 0:
                highest = max(highest, process.memory_info().rss)
        peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    finally:
        path.unlink()

    assert table.encoding == "cp1252"
    assert count == rows_written
    # Each row takes two physical lines: its note runs over a CRLF.
    assert (last.line, last.values["external_id"]) == (2 * rows_written, f"CRM-{rows_written - 1:08d}")
    assert highest - rss_before < 50 * 1024 * 1024
    assert peak_after - peak_before < 50 * 1024 * 1024


def test_a_file_matching_no_field_is_read_when_asked_so_the_admin_can_map_it(tmp_path):
    path = write(tmp_path, "Nom;Ville\nDupré;Paris\n".encode())

    table = open_source(path, fields=FIELDS, require_match=False)

    assert (table.headers, table.mapped, table.ignored_headers) == (["Nom", "Ville"], {}, ["Nom", "Ville"])
