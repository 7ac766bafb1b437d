"""Exports of every kind to CSV and XLSX: the exact columns and values, numbers as numbers in XLSX, formula cells
defused in both formats, only what a staff member may see, the command line, the admin actions, and a number of
queries that does not grow with the rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from core.spreadsheets import csv_cell, escape_formula, xlsx_cell
from customers.models import Advisor, ConsentChannel, ConsentPurpose, Customer, SourceSystem
from customers.resources import CUSTOMER_COLUMNS
from customers.services import consent_record, customer_upsert
from feedback.models import Response, Survey
from imports.exports import export_rows, write_export
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, PersonaFactory, ProductFactory, make_staff
from touchpoints.models import Order
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.django_db

PARIS_TIME = zoneinfo.ZoneInfo("Europe/Paris")
UTC = dt.UTC
NO_CONSENT = [""] * 16  # eight keys, each with its moment, none on record


@pytest.fixture(autouse=True)
def house_time_zone(settings):
    # Moments are written in the house time zone with their offset; Paris shows that the offset is kept.
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def house():
    """Two boutiques, an advisor, a persona, a product, three Paris clients (one of them a formula in disguise) and
    one London client, with consent, an order with a return line, interactions and a survey response."""
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", timezone="Europe/Paris")
    london = BoutiqueFactory(code="LON", name="London Bond Street", city="London", country="GB",
                             timezone="Europe/London", currency="GBP")
    sophie = make_staff(Advisor.Role.ADVISOR, paris, username="sophie").advisor
    persona = PersonaFactory(name="Connoisseur", slug="connoisseur", preferred_channels=["boutique", "email"])
    ProductFactory(sku="BAG-1", name="Kelly 28", category="Handbags", collection="Spring", price="9500.00")
    camille = customer_upsert(
        source=SourceSystem.CRM, external_id="CRM-1", identities={"pos": "P-1"}, email="Camille@Example.com",
        phone="06 12 34 56 78", first_name="Camille", last_name="Durand", birth_date=dt.date(1985, 4, 12),
        language="fr", city="Paris", country="fr", home_boutique=paris, advisor=sophie, persona=persona,
        preferences={"sizes": ["38"], "categories": ["Handbags", "Scarves"]},
        advisor_notes="@home on Sundays, prefers mornings",
    ).customer
    consent_record(customer=camille, channel=ConsentChannel.EMAIL, purpose=ConsentPurpose.MARKETING,
                   is_granted=True, occurred_at=dt.datetime(2026, 1, 10, 9, 0, tzinfo=UTC), source=SourceSystem.CRM)
    consent_record(customer=camille, channel=ConsentChannel.SMS, purpose=ConsentPurpose.MARKETING,
                   is_granted=True, occurred_at=dt.datetime(2025, 6, 1, 8, 0, tzinfo=UTC), source=SourceSystem.CRM)
    consent_record(customer=camille, channel=ConsentChannel.SMS, purpose=ConsentPurpose.MARKETING,
                   is_granted=False, occurred_at=dt.datetime(2026, 1, 12, 9, 0, tzinfo=UTC), source=SourceSystem.CRM)
    tricky = customer_upsert(
        source=SourceSystem.POS, external_id="P-2", email="tricky@example.com",
        first_name='=HYPERLINK("http://evil.example")', last_name="-Smith", home_boutique=paris,
    ).customer
    oliver = customer_upsert(
        source=SourceSystem.POS, external_id="L-1", email="oliver@example.com", first_name="Oliver",
        last_name="Smith", home_boutique=london,
    ).customer
    order_record(
        source=SourceSystem.POS, external_id="O-1", customer=camille, boutique=paris, advisor=sophie,
        placed_at=dt.datetime(2026, 2, 1, 10, 30, tzinfo=PARIS_TIME), currency="EUR", total="9450.00",
        lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="9500.00"),
               OrderLineData(sku="SCARF-9", quantity=-1, unit_price="50.00", product_name="Twilly", category="Silk",
                             is_return=True)],
    )
    order_record(
        source=SourceSystem.POS, external_id="L-O-1", customer=oliver, boutique=london,
        placed_at=dt.datetime(2026, 2, 2, 12, 0, tzinfo=UTC), currency="GBP", total="300.00",
        lines=[OrderLineData(sku="TIE-1", quantity=2, unit_price="150.00", product_name="Tie", category="Ties")],
    )
    visit = interaction_record(
        customer=camille, touchpoint_type="store_visit", occurred_at=dt.datetime(2026, 1, 20, 15, 0, tzinfo=UTC),
        source=SourceSystem.CRM, external_id="V-1", boutique=paris, advisor=sophie,
        metadata={"note": "=1+2 tried the Kelly", "duration_minutes": 30},
    ).record
    interaction_record(
        customer=oliver, touchpoint_type="store_visit", occurred_at=dt.datetime(2026, 1, 21, 15, 0, tzinfo=UTC),
        source=SourceSystem.CRM, external_id="V-2", boutique=london,
    )
    survey = Survey.objects.create(name="After a visit", kind=Survey.Kind.NPS, question="Would you recommend us?")
    Response.objects.create(survey=survey, customer=camille, score=9, comment="+ lovely welcome",
                            responded_at=dt.datetime(2026, 1, 21, 8, 0, tzinfo=UTC), source=SourceSystem.CRM,
                            external_id="R-1", answers={"q1": "yes"})
    Response.objects.create(survey=survey, customer=oliver, score=6, comment="",
                            responded_at=dt.datetime(2026, 1, 22, 8, 0, tzinfo=UTC))
    return SimpleNamespace(paris=paris, london=london, sophie=sophie, camille=camille, tricky=tricky, oliver=oliver,
                           visit=visit)


def export_csv(kind: str, **scope) -> tuple[bytes, list[list[str]]]:
    stream = io.BytesIO()
    write_export(kind=kind, fmt="csv", stream=stream, **scope)
    content = stream.getvalue()
    return content, list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def export_xlsx(kind: str, **scope) -> list[list]:
    stream = io.BytesIO()
    write_export(kind=kind, fmt="xlsx", stream=stream, **scope)
    stream.seek(0)
    sheet = load_workbook(stream).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def client_row(house, customer) -> list[str]:
    return next(row for row in export_csv("customers")[1] if row[0] == str(customer.public_id))


# --- The columns and values of each kind ---------------------------------------------------------------------


def test_the_client_file_holds_every_column_with_exact_values(house):
    content, rows = export_csv("customers")

    assert content.startswith(b"\xef\xbb\xbfpublic_id,crm_id,pos_id,ecommerce_id,first_name,")
    assert content.endswith(b"\r\n")
    assert rows[0] == list(CUSTOMER_COLUMNS) == [
        "public_id", "crm_id", "pos_id", "ecommerce_id", "first_name", "last_name", "email", "phone", "birth_date",
        "language", "city", "country", "home_boutique", "advisor", "persona", "value_tier", "preferences_sizes",
        "preferences_categories", "preferences_styles", "advisor_notes",
        "email_marketing", "email_marketing_at", "sms_marketing", "sms_marketing_at", "phone_marketing",
        "phone_marketing_at", "messaging_marketing", "messaging_marketing_at", "email_service", "email_service_at",
        "sms_service", "sms_service_at", "phone_service", "phone_service_at", "messaging_service",
        "messaging_service_at", "lifetime_value", "order_count", "last_order_at",
    ]
    assert rows[1:] == [
        [str(house.camille.public_id), "CRM-1", "P-1", "", "Camille", "Durand", "camille@example.com",
         "'+33612345678", "1985-04-12", "fr", "Paris", "FR", "PAR", "sophie@atelier.example", "Connoisseur",
         "client", "38", "Handbags|Scarves", "", "'@home on Sundays, prefers mornings",
         "true", "2026-01-10T10:00:00+01:00", "false", "2026-01-12T10:00:00+01:00", *[""] * 12,
         "9450.00", "1", "2026-02-01T10:30:00+01:00"],
        [str(house.tricky.public_id), "", "P-2", "", "'=HYPERLINK(\"http://evil.example\")", "'-Smith",
         "tricky@example.com", "", "", "", "", "", "PAR", "", "", "prospect", "", "", "", "", *NO_CONSENT,
         "0.00", "0", ""],
        [str(house.oliver.public_id), "", "L-1", "", "Oliver", "Smith", "oliver@example.com", "", "", "", "", "",
         "LON", "", "", "client", "", "", "", "", *NO_CONSENT, "351.00", "1", "2026-02-02T13:00:00+01:00"],  # in EUR
    ]


def test_the_order_file_has_one_row_per_line_with_its_order_repeated(house):
    _, rows = export_csv("orders")

    assert rows == [
        ["source", "order_id", "public_id", "crm_id", "boutique", "advisor", "channel", "placed_at", "status",
         "currency", "order_total", "line_number", "sku", "product_name", "category", "quantity", "unit_price",
         "is_return"],
        ["pos", "O-1", str(house.camille.public_id), "CRM-1", "PAR", "sophie@atelier.example", "boutique",
         "2026-02-01T10:30:00+01:00", "placed", "EUR", "9450.00", "1", "BAG-1", "Kelly 28", "Handbags", "1",
         "9500.00", "false"],
        ["pos", "O-1", str(house.camille.public_id), "CRM-1", "PAR", "sophie@atelier.example", "boutique",
         "2026-02-01T10:30:00+01:00", "placed", "EUR", "9450.00", "2", "SCARF-9", "Twilly", "Silk", "-1", "50.00",
         "true"],
        ["pos", "L-O-1", str(house.oliver.public_id), "", "LON", "", "boutique", "2026-02-02T13:00:00+01:00",
         "placed", "GBP", "300.00", "1", "TIE-1", "Tie", "Ties", "2", "150.00", "false"],
    ]


def test_the_interaction_file_leaves_purchases_to_the_order_file_and_gives_the_note_its_own_column(house):
    _, rows = export_csv("interactions")

    assert rows == [
        ["source", "external_id", "public_id", "touchpoint_type", "occurred_at", "channel", "boutique", "advisor",
         "amount", "currency", "note", "metadata"],
        ["crm", "V-1", str(house.camille.public_id), "store_visit", "2026-01-20T16:00:00+01:00", "boutique", "PAR",
         "sophie@atelier.example", "", "", "'=1+2 tried the Kelly", '{"duration_minutes":30}'],
        ["crm", "V-2", str(house.oliver.public_id), "store_visit", "2026-01-21T16:00:00+01:00", "boutique", "LON",
         "", "", "", "", ""],
    ]


def test_the_response_file(house):
    _, rows = export_csv("responses")

    assert rows == [
        ["survey", "public_id", "score", "comment", "responded_at", "source", "external_id", "answers"],
        ["After a visit", str(house.camille.public_id), "9", "'+ lovely welcome", "2026-01-21T09:00:00+01:00", "crm",
         "R-1", '{"q1":"yes"}'],
        ["After a visit", str(house.oliver.public_id), "6", "", "2026-01-22T09:00:00+01:00", "atelier", "", ""],
    ]


def test_the_catalogue_files(house):
    assert export_csv("personas")[1] == [
        ["slug", "name", "description", "motivations", "pain_points", "preferred_channels"],
        ["connoisseur", "Connoisseur", "", "", "", "boutique|email"],
    ]
    assert export_csv("products")[1] == [
        ["sku", "name", "category", "collection", "price", "currency", "is_active"],
        ["BAG-1", "Kelly 28", "Handbags", "Spring", "9500.00", "EUR", "true"],
    ]
    assert export_csv("boutiques")[1] == [
        ["code", "name", "city", "country", "timezone", "currency"],
        ["LON", "London Bond Street", "London", "GB", "Europe/London", "GBP"],
        ["PAR", "Paris Faubourg", "Paris", "FR", "Europe/Paris", "EUR"],
    ]


def test_an_unknown_kind_is_refused():
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="Unknown kind 'clients'"):
        list(export_rows(kind="clients"))


# --- XLSX --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["customers", "orders", "interactions", "responses", "products"])
def test_the_xlsx_file_holds_the_same_cells_as_the_csv_with_numbers_as_numbers(house, kind):
    csv_rows = export_csv(kind)[1]
    xlsx_rows = export_xlsx(kind)

    as_text = [["" if value is None else value for value in row] for row in xlsx_rows]
    assert len(xlsx_rows) == len(csv_rows)
    for xlsx_row, csv_row in zip(as_text, csv_rows, strict=True):
        for xlsx_value, csv_value in zip(xlsx_row, csv_row, strict=True):
            if isinstance(xlsx_value, str):
                assert xlsx_value == csv_value
            else:
                assert isinstance(xlsx_value, int | float)
                assert Decimal(str(xlsx_value)) == Decimal(csv_value)


def test_xlsx_numbers_are_numbers_and_text_stays_text(house):
    clients = {row[0]: row for row in export_xlsx("customers")}
    lines = export_xlsx("orders")

    camille = clients[str(house.camille.public_id)]
    header = export_xlsx("customers")[0]
    assert camille[header.index("lifetime_value")] == 9450
    assert camille[header.index("order_count")] == 1
    assert camille[header.index("birth_date")] == "1985-04-12"  # text, as written: the importer reads ISO
    assert camille[header.index("email_marketing")] == "true"
    assert [(line[15], line[16], line[17]) for line in lines[1:3]] == [(1, 9500, "false"), (-1, 50, "true")]


def test_xlsx_amounts_show_their_decimals(house):
    stream = io.BytesIO()
    write_export(kind="orders", fmt="xlsx", stream=stream)
    stream.seek(0)
    sheet = load_workbook(stream).active

    assert (sheet["K2"].value, sheet["K2"].number_format) == (9450, "0.00")
    assert sheet["P2"].number_format == "General"  # a quantity is a whole number
    assert sheet.freeze_panes == "A2"


# --- Formula cells -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "written"),
    [("=1+2", "'=1+2"), ("+33612345678", "'+33612345678"), ("-2", "'-2"), ("@A1", "'@A1"), ("\tx", "'\tx"),
     ("\rx", "'\rx"), ("'quoted", "''quoted"), ("Durand", "Durand"), ("", ""), (None, ""),
     (Decimal("12.50"), "12.50")],
)
def test_escape_formula_defuses_what_a_spreadsheet_would_run(value, written):
    assert escape_formula(value) == written


def test_numbers_are_not_escaped_even_when_negative_but_text_is():
    assert [csv_cell(value) for value in (-1, Decimal("-50.00"), "-1", "true", None)] == ["-1", "-50.00", "'-1",
                                                                                           "true", ""]
    assert [xlsx_cell(value) for value in (-1, Decimal("-50.00"), "-1", "a\x00b", None)] == [
        -1, Decimal("-50.00"), "'-1", "ab", None
    ]


def test_no_cell_of_an_xlsx_export_is_a_formula(house):
    stream = io.BytesIO()
    write_export(kind="customers", fmt="xlsx", stream=stream)
    stream.seek(0)
    sheet = load_workbook(stream).active

    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert {cell.data_type for cell in cells} <= {"s", "inlineStr", "n"}  # text and numbers, no formula ("f")
    assert '\'=HYPERLINK("http://evil.example")' in [cell.value for cell in cells]
    assert "'@home on Sundays, prefers mornings" in [cell.value for cell in cells]


# --- Scope ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "paris_rows", "all_rows"),
    [("customers", 2, 3), ("orders", 2, 3), ("interactions", 1, 2), ("responses", 1, 2), ("boutiques", 1, 2),
     ("products", 1, 1), ("personas", 1, 1)],
)
def test_a_boutique_advisor_exports_only_their_boutique_and_head_office_everything(house, kind, paris_rows,
                                                                                 all_rows):
    advisor = make_staff(Advisor.Role.ADVISOR, house.paris, username="camille-advisor")
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="head")

    advisor_rows = export_csv(kind, user=advisor)[1][1:]
    assert len(advisor_rows) == paris_rows
    assert len(export_csv(kind, user=head_office)[1][1:]) == all_rows
    assert len(export_csv(kind)[1][1:]) == all_rows  # the command line
    assert not any("LON" in row or str(house.oliver.public_id) in row for row in advisor_rows)


def test_a_staff_member_without_a_boutique_exports_no_client(house):
    nobody = make_staff(Advisor.Role.ADVISOR, house.paris, username="leaver")
    nobody.advisor.is_active = False
    nobody.advisor.save(update_fields=["is_active"])

    assert export_csv("customers", user=nobody)[1] == [list(CUSTOMER_COLUMNS)]


def test_a_selection_is_still_scoped(house):
    advisor = make_staff(Advisor.Role.ADVISOR, house.paris, username="camille-advisor")

    rows = list(export_rows(kind="customers", user=advisor, queryset=Customer.objects.filter(
        pk__in=[house.camille.pk, house.oliver.pk])))

    assert [row[0] for row in rows[1:]] == [str(house.camille.public_id)]


# --- The command line ----------------------------------------------------------------------------------------------


def test_the_export_command_writes_the_file_and_a_summary(house, tmp_path, capsys):
    target = tmp_path / "clients.csv"

    call_command("export_data", "customers", str(target))

    out, err = capsys.readouterr()
    assert target.read_bytes() == export_csv("customers")[0]
    assert re.fullmatch(rf"Exported 3 clients to {re.escape(str(target))} as CSV in \d+\.\d s\.\n", out)
    assert "3/3" in err  # tqdm's progress bar, on standard error
    assert list(tmp_path.iterdir()) == [target]  # nothing left aside


def test_the_export_command_writes_xlsx_for_one_boutique(house, tmp_path, capsys):
    target = tmp_path / "lines.xlsx"

    call_command("export_data", "orders", str(target), "--boutique", "LON", verbosity=0)

    sheet = load_workbook(target).active
    assert [row[1] for row in sheet.iter_rows(values_only=True)] == ["order_id", "L-O-1"]
    assert capsys.readouterr().out.startswith(f"Exported 1 order lines of boutique LON to {target} as XLSX in ")


def test_the_export_command_refuses_an_unknown_boutique(house, tmp_path):
    with pytest.raises(CommandError, match="No boutique has the code 'NYC'. Codes: LON, PAR."):
        call_command("export_data", "customers", str(tmp_path / "x.csv"), "--boutique", "NYC")
    assert list(tmp_path.iterdir()) == []


# --- Queries -------------------------------------------------------------------------------------------------------


def add_clients(count: int, start: int, boutique) -> None:
    for number in range(start, start + count):
        customer = customer_upsert(
            source=SourceSystem.CRM, external_id=f"Q-{number}", identities={"pos": f"QP-{number}"},
            email=f"q{number}@example.com", home_boutique=boutique,
        ).customer
        consent_record(customer=customer, channel=ConsentChannel.EMAIL, purpose=ConsentPurpose.MARKETING,
                       is_granted=True, occurred_at=dt.datetime(2026, 1, 1, tzinfo=UTC), source=SourceSystem.CRM)
        order_record(source=SourceSystem.POS, external_id=f"QO-{number}", customer=customer, boutique=boutique,
                     placed_at=dt.datetime(2026, 1, 2, tzinfo=UTC), currency="EUR", total="10.00",
                     lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="10.00")])


def count_queries(kind: str, fmt: str, user) -> tuple[int, int]:
    stream = io.BytesIO()
    with CaptureQueriesContext(connection) as queries:
        result = write_export(kind=kind, fmt=fmt, stream=stream, user=user)
    return len(queries), result.rows


@pytest.mark.parametrize("kind", ["customers", "orders"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exporting_fifty_clients_costs_the_same_queries_as_one(kind, fmt):
    paris = BoutiqueFactory(code="PAR")
    ProductFactory(sku="BAG-1")
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    add_clients(1, 1, paris)
    count_queries(kind, fmt, manager)  # the staff member's scope is read once, then kept on the user

    with_one = count_queries(kind, fmt, manager)
    add_clients(49, 2, paris)
    with_fifty = count_queries(kind, fmt, manager)

    assert (with_one[1], with_fifty[1]) == (1, 50)
    assert with_one[0] == with_fifty[0] == (3 if kind == "customers" else 2)  # rows, then each prefetch once


# --- The admin -----------------------------------------------------------------------------------------------------


def post_action(browser, model_name: str, action: str, pks: list[int]):
    url = reverse(f"admin:{model_name}_changelist")
    return browser.post(url, {"action": action, "_selected_action": pks, "index": "0"})


def test_the_order_admin_exports_the_lines_of_the_selected_orders_the_manager_may_see(house):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, house.paris, username="manager")

    response = post_action(logged_in(manager), "touchpoints_order", "export_csv",
                           list(Order.objects.values_list("pk", flat=True)))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="order-lines-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(row[1], row[11]) for row in rows[1:]] == [("O-1", "1"), ("O-1", "2")]


@pytest.mark.parametrize(
    ("model_name", "expected"),
    [("customers_customer", 2), ("touchpoints_orderline", 2), ("touchpoints_interaction", 1),
     ("feedback_response", 1), ("customers_boutique", 1), ("customers_persona", 1), ("touchpoints_product", 1)],
)
def test_each_admin_exports_xlsx_of_what_the_manager_may_see(house, model_name, expected):
    from django.apps import apps

    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, house.paris, username="manager")
    model = apps.get_model(*model_name.split("_", 1))
    every_pk = list(model._default_manager.values_list("pk", flat=True))

    response = post_action(logged_in(manager), model_name, "export_xlsx", every_pk)

    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert sheet.max_row - 1 == expected


def test_the_client_list_export_costs_the_same_queries_for_one_client_and_for_twenty():
    paris = BoutiqueFactory(code="PAR")
    ProductFactory(sku="BAG-1")
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    browser = logged_in(manager)
    add_clients(1, 1, paris)

    def queries_and_rows() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = post_action(browser, "customers_customer", "export_csv",
                                   list(Customer.objects.values_list("pk", flat=True)))
            content = b"".join(response.streaming_content)
        return len(queries), content.count(b"\r\n") - 1

    queries_and_rows()  # sessions and content types warm up on the first request
    with_one = queries_and_rows()
    add_clients(19, 2, paris)
    with_twenty = queries_and_rows()

    assert (with_one[1], with_twenty[1]) == (1, 20)
    assert with_one[0] == with_twenty[0]


def test_the_client_list_csv_is_the_client_file(house):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, house.paris, username="manager")

    response = post_action(logged_in(manager), "customers_customer", "export_csv",
                           [house.camille.pk, house.oliver.pk])

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows == [list(CUSTOMER_COLUMNS), client_row(house, house.camille)]


@pytest.mark.django_db
def test_the_export_command_refuses_a_folder_that_does_not_exist(tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="does not exist; create it or choose another file name"):
        call_command("export_data", "customers", str(tmp_path / "missing" / "clients.csv"))
    assert not (tmp_path / "missing").exists()
