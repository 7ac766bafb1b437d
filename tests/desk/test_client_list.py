"""The client list: search (a phone in any common format, exact email and id, names), each filter with an exact
count, the columns, "My clients", each action's effect, and the refusals: another boutique's clients are never
found and a user without the permission has no such action. Query counts do not grow with the clients."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.filters import CustomerFilterSet, months_before
from customers.models import (
    Advisor,
    ClientHandover,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    CustomerMerge,
    SourceSystem,
)
from customers.resources import CUSTOMER_COLUMNS
from customers.services import consent_record, customer_upsert
from journeys.models import Enrollment, Journey, Stage, Transition
from journeys.services import enrollment_enroll
from tests.desk.helpers import logged_in, messages_of
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, make_staff
from touchpoints.services import OrderLineData, order_record

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:customers_customer_changelist")



def shown(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return sorted(str(customer) for customer in response.context["cl"].result_list)



def run_action(browser: Client, action: str, customers, url: str = LIST_URL, **choices):
    """The confirmation page's POST: the action, the selection and the choices made (or, with no choices, the list's
    own action bar)."""
    data = {"action": action, "_selected_action": [customer.pk for customer in customers]}
    data |= {"apply": "yes", **choices} if choices else {"index": "0"}
    return browser.post(url, data)


def add_client(number: int, boutique, **values) -> Customer:
    return customer_upsert(
        source=SourceSystem.POS, external_id=f"C-{number}", email=values.pop("email", f"client{number}@example.com"),
        last_name=values.pop("last_name", f"Client {number:02d}"), home_boutique=boutique, **values,
    ).customer


def buy(customer: Customer, number: int, placed_at: dt.datetime, total: str = "500.00") -> None:
    order_record(
        source=SourceSystem.POS, external_id=f"O-{number}", customer=customer, placed_at=placed_at, currency="EUR",
        total=total, lines=[OrderLineData(sku="SCARF-1", quantity=1, unit_price=total)],
        boutique=customer.home_boutique,
    )


def state() -> dict[str, object]:
    """Everything an action could change, to prove that a refused one changed nothing."""
    return {
        "clients": list(Customer.objects.order_by("pk").values_list("pk", "advisor_id", "email", "updated_at")),
        "enrollments": list(Enrollment.objects.order_by("pk").values_list("pk", "stage_id", "stage_entered_at")),
        "transitions": Transition.objects.count(),
        "merges": CustomerMerge.objects.count(),
        "handovers": ClientHandover.objects.count(),
    }


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", timezone="Europe/Paris")


@pytest.fixture
def london():
    return BoutiqueFactory(code="LON", name="London Bond Street", country="GB", timezone="Europe/London",
                           currency="GBP")


@pytest.fixture
def manager(paris):
    return make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")


@pytest.fixture
def advisor_user(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="camille")


@pytest.fixture
def head_office():
    return make_staff(Advisor.Role.HEAD_OFFICE, username="head")


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


@pytest.fixture
def stages(lifecycle) -> list[Stage]:
    return list(lifecycle.stages.order_by("position"))


@pytest.fixture
def camille(paris):
    return add_client(1, paris, first_name="Camille", last_name="Durand", email="camille@example.com",
                      phone="+33612345678")


@pytest.fixture
def other_paris_clients(paris):
    return [
        add_client(2, paris, first_name="Camille", last_name="Martin", phone="+33698765432"),
        add_client(3, paris, first_name="Louis", last_name="Durandal"),
    ]


@pytest.fixture
def oliver(london):
    return add_client(10, london, first_name="Oliver", last_name="Smith", email="oliver@example.co.uk",
                      phone="+447911123456")


# --- Search --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["06 12 34 56 78", "0612345678", "06.12.34.56.78", "06-12-34-56-78", "+33 6 12 34 56 78",
              "+33612345678", "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78"],
)
def test_a_phone_typed_in_any_common_format_finds_the_client(manager, camille, other_paris_clients, typed):
    response = logged_in(manager).get(LIST_URL, {"q": typed})

    assert shown(response) == ["Camille Durand"]


def test_a_local_phone_number_is_read_in_the_searchers_boutique_country(london, head_office, oliver):
    london_manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, london, username="london-manager")

    in_london = logged_in(london_manager).get(LIST_URL, {"q": "07911 123456"})
    # Head office works at no boutique: a local number is not a valid French one, but its digits end Oliver's.
    at_head_office = logged_in(head_office).get(LIST_URL, {"q": "07911 123456"})
    international = logged_in(head_office).get(LIST_URL, {"q": "+44 7911 123456"})

    assert shown(in_london) == ["Oliver Smith"]
    assert shown(at_head_office) == ["Oliver Smith"]
    assert shown(international) == ["Oliver Smith"]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Camille@Example.COM", ["Camille Durand"]),
        ("camille@", []),  # emails match whole, on their index
        ("dur", ["Camille Durand", "Louis Durandal"]),
        ("camille dur", ["Camille Durand"]),
        ("  Martin ", ["Camille Martin"]),
        ("0612", []),  # four digits are too few to be part of a phone number
    ],
)
def test_search_by_email_and_name(manager, camille, other_paris_clients, typed, found):
    response = logged_in(manager).get(LIST_URL, {"q": typed})

    assert shown(response) == found


def test_search_by_public_id(manager, camille, other_paris_clients):
    response = logged_in(manager).get(LIST_URL, {"q": str(camille.public_id).upper()})

    assert shown(response) == ["Camille Durand"]


def test_search_never_finds_another_boutiques_client(manager, camille, oliver):
    browser = logged_in(manager)

    by_phone = browser.get(LIST_URL, {"q": "+44 7911 123456"})
    by_email = browser.get(LIST_URL, {"q": "oliver@example.co.uk"})
    by_id = browser.get(LIST_URL, {"q": str(oliver.public_id)})

    assert (shown(by_phone), shown(by_email), shown(by_id)) == ([], [], [])


# --- Filters -------------------------------------------------------------------------------------------------------


@pytest.fixture
def filtered_house(paris, london, lifecycle, stages, head_office):
    """Six Paris clients and one London client, each differing in what one filter looks at."""
    now = timezone.now()
    sophie = AdvisorFactory(boutique=paris, user__last_name="Sophie")
    persona = PersonaFactory(name="The connoisseur", slug="connoisseur")
    recent = add_client(1, paris, advisor=sophie, persona=persona)
    buy(recent, 1, now - dt.timedelta(seconds=1), total="12000.00")  # gold
    weeks = add_client(2, paris, advisor=sophie)
    buy(weeks, 2, now - dt.timedelta(days=40))
    months = add_client(3, paris)
    buy(months, 3, now - dt.timedelta(days=200))
    years = add_client(4, paris)
    buy(years, 4, now - dt.timedelta(days=500))
    add_client(5, paris)
    add_client(6, paris)
    london_client = add_client(7, london, persona=persona)
    buy(london_client, 7, now - dt.timedelta(seconds=1))
    enrollment_enroll(customer=recent, journey=lifecycle)
    enrollment_enroll(customer=weeks, journey=lifecycle, stage=stages[2])
    enrollment_enroll(customer=london_client, journey=lifecycle, stage=stages[2])
    left, _ = enrollment_enroll(customer=months, journey=lifecycle, stage=stages[2])
    # Client 03 has left the journey: no longer in the stage.
    Enrollment.objects.filter(pk=left.pk).update(exited_at=timezone.now())
    for number, channel, granted in [(1, ConsentChannel.EMAIL, True), (2, ConsentChannel.EMAIL, False),
                                     (3, ConsentChannel.SMS, True)]:
        consent_record(
            customer=Customer.objects.get(email=f"client{number}@example.com"), channel=channel,
            purpose=ConsentPurpose.MARKETING, is_granted=granted, occurred_at=now, source=SourceSystem.ATELIER,
        )
    return {"sophie": sophie, "persona": persona, "stages": stages, "paris": paris, "london": london}


@pytest.mark.parametrize(
    ("parameters", "found"),
    [
        ({}, ["Client 01", "Client 02", "Client 03", "Client 04", "Client 05", "Client 06", "Client 07"]),
        ({"boutique_id": "paris"}, ["Client 01", "Client 02", "Client 03", "Client 04", "Client 05", "Client 06"]),
        ({"boutique_id": "london"}, ["Client 07"]),
        ({"advisor_id": "sophie"}, ["Client 01", "Client 02"]),
        ({"advisor_id": "null"}, ["Client 03", "Client 04", "Client 05", "Client 06", "Client 07"]),
        ({"value_tier": "gold"}, ["Client 01"]),
        ({"value_tier": "client"}, ["Client 02", "Client 03", "Client 04", "Client 07"]),
        ({"value_tier": "prospect"}, ["Client 05", "Client 06"]),
        ({"persona_id": "persona"}, ["Client 01", "Client 07"]),
        ({"stage_id": 0}, ["Client 01"]),
        ({"stage_id": 2}, ["Client 02", "Client 07"]),
        ({"stage_id": 2, "boutique_id": "paris"}, ["Client 02"]),
        ({"last_purchase": "this_month"}, ["Client 01", "Client 07"]),
        ({"last_purchase": "last_3_months"}, ["Client 01", "Client 02", "Client 07"]),
        ({"last_purchase": "last_12_months"}, ["Client 01", "Client 02", "Client 03", "Client 07"]),
        ({"last_purchase": "over_12_months"}, ["Client 04"]),
        ({"last_purchase": "never"}, ["Client 05", "Client 06"]),
        ({"consent": "email_marketing"}, ["Client 01"]),
        ({"consent": "sms_marketing"}, ["Client 03"]),
        ({"consent": "phone_marketing"}, []),
    ],
)
def test_each_filter_finds_exactly_its_clients(head_office, filtered_house, parameters, found):
    house = filtered_house
    ids = {"paris": house["paris"].pk, "london": house["london"].pk, "sophie": house["sophie"].pk,
           "persona": house["persona"].pk}
    query = {
        name: house["stages"][value].pk if name == "stage_id" else ids.get(value, value)
        for name, value in parameters.items()
    }

    response = logged_in(head_office).get(LIST_URL, query)

    assert shown(response) == found


def test_the_filter_set_alone_filters_as_the_list_does(head_office, filtered_house):
    """The API uses the filter set without the admin: same filters, same clients."""
    request = type("Request", (), {"user": head_office})()
    data = {"last_purchase": "last_12_months", "advisor_id": filtered_house["sophie"].pk}

    found = CustomerFilterSet(data, queryset=Customer.objects.visible_to(head_office), request=request).qs

    assert sorted(customer.last_name for customer in found) == ["Client 01", "Client 02"]


def test_a_manager_is_offered_no_boutique_filter_and_only_their_boutiques_advisors(
    manager, filtered_house, london
):
    AdvisorFactory(boutique=london, user__last_name="Londoner")
    response = logged_in(manager).get(LIST_URL)

    filters = {spec.parameter_name: spec for spec in response.context["cl"].filter_specs
               if hasattr(spec, "parameter_name")}
    advisor_choices = [title for _, title in filters["advisor_id"].lookup_choices]
    assert "boutique_id" not in filters  # a filter with no choices is not shown
    assert "Londoner" not in " ".join(advisor_choices)
    assert advisor_choices == [
        str(advisor) for advisor in Advisor.objects.filter(boutique=filtered_house["paris"]).select_related("user")
    ] + ["No advisor"]


def test_filtering_on_another_boutiques_advisor_is_refused(manager, filtered_house, london):
    londoner = AdvisorFactory(boutique=london)

    response = logged_in(manager).get(LIST_URL, {"advisor_id": londoner.pk})

    # The admin's answer to a filter it cannot apply: back to the list with ?e=1, which shows nothing.
    assert response.status_code == 302
    assert response.url == f"{LIST_URL}?e=1"


def test_months_before_keeps_the_day_or_takes_the_months_last():
    moment = dt.datetime(2026, 5, 31, 9, 30, tzinfo=dt.UTC)

    assert months_before(moment, 3) == dt.datetime(2026, 2, 28, 9, 30, tzinfo=dt.UTC)
    assert months_before(moment, 12) == dt.datetime(2025, 5, 31, 9, 30, tzinfo=dt.UTC)
    assert months_before(dt.datetime(2026, 1, 15, tzinfo=dt.UTC), 1) == dt.datetime(2025, 12, 15, tzinfo=dt.UTC)


# --- Columns and "My clients" --------------------------------------------------------------------------------------


def test_the_columns_show_the_metrics_and_sort_by_lifetime_value(head_office, paris):
    top = add_client(1, paris, first_name="Ada")
    buy(top, 1, timezone.now() - dt.timedelta(days=3), total="12000.00")
    add_client(2, paris, first_name="Bea")
    lifetime_value_column = 3  # name, tier, lifetime value: columns are numbered from 1 after the checkbox

    response = logged_in(head_office).get(LIST_URL, {"o": f"-{lifetime_value_column}"})

    assert response.context["cl"].list_display == [
        "action_checkbox", "name", "tier", "value", "orders", "last_purchase", "churn_risk", "advisor_name",
        "boutique_name", "email", "phone",
    ]
    rows = response.context["cl"].result_list
    assert [(str(row), row.value_tier, row.lifetime_value, row.order_count) for row in rows] == [
        ("Ada Client 01", "gold", Decimal("12000.00"), 1), ("Bea Client 02", "prospect", Decimal("0.00"), 0)
    ]
    # Amounts read the same way on every page: grouped, two decimals, the house currency.
    assert "<td class=\"field-value\">12,000.00 EUR</td>" in response.content.decode()


def test_the_boutique_column_is_left_out_for_staff_of_one_boutique(manager, camille):
    response = logged_in(manager).get(LIST_URL)

    assert "boutique_name" not in response.context["cl"].list_display


def test_an_advisor_opens_the_list_on_their_own_client_book(advisor_user, paris, camille, other_paris_clients):
    Customer.objects.filter(pk=camille.pk).update(advisor=advisor_user.advisor)
    browser = logged_in(advisor_user)

    default = browser.get(LIST_URL)
    everyone = browser.get(LIST_URL, {"client_book": "all"})
    # A search looks through the whole boutique: the client at the counter is often in a colleague's book.
    searched = browser.get(LIST_URL, {"q": "06 98 76 54 32"})
    searched_in_book = browser.get(LIST_URL, {"q": "06 98 76 54 32", "client_book": "mine"})

    assert shown(default) == ["Camille Durand"]
    assert shown(everyone) == ["Camille Durand", "Camille Martin", "Louis Durandal"]
    assert shown(searched) == ["Camille Martin"]
    assert shown(searched_in_book) == []
    assert 'href="?client_book=mine"' in default.content.decode()


def test_a_manager_opens_the_list_on_the_whole_boutique_and_can_open_their_own_book(manager, camille,
                                                                                   other_paris_clients):
    Customer.objects.filter(pk=camille.pk).update(advisor=manager.advisor)
    browser = logged_in(manager)

    default = browser.get(LIST_URL)
    mine = browser.get(LIST_URL, {"client_book": "mine"})

    assert shown(default) == ["Camille Durand", "Camille Martin", "Louis Durandal"]
    assert shown(mine) == ["Camille Durand"]


# --- Query counts --------------------------------------------------------------------------------------------------


def add_clients(count: int, *, start: int, boutique, advisor, stage) -> None:
    for number in range(start, start + count):
        client = add_client(number, boutique, advisor=advisor, phone=f"+336{number:08d}")
        buy(client, number, timezone.now() - dt.timedelta(days=3))
        enrollment_enroll(customer=client, journey=stage.journey, stage=stage)


def count_queries(browser: Client, parameters: dict[str, object]) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(LIST_URL, parameters)
    assert response.status_code == 200
    return len(queries), len(response.context["cl"].result_list)


@pytest.mark.parametrize("kind", ["list", "phone search", "filtered list"])
def test_the_list_a_search_and_a_filter_cost_the_same_queries_for_one_client_and_for_twenty(
    manager, paris, stages, kind
):
    advisor = AdvisorFactory(boutique=paris)
    parameters = {
        "list": {},
        "phone search": {"q": "06 00 00 00 01"},
        "filtered list": {"advisor_id": advisor.pk, "value_tier": "client", "last_purchase": "last_3_months",
                          "stage_id": stages[1].pk, "persona_id": "null"},
    }[kind]
    browser = logged_in(manager)
    add_clients(1, start=1, boutique=paris, advisor=advisor, stage=stages[1])
    browser.get(LIST_URL, parameters)  # caches (content types, the session) warm up on the first page

    with_one = count_queries(browser, parameters)
    add_clients(19, start=2, boutique=paris, advisor=advisor, stage=stages[1])
    with_twenty = count_queries(browser, parameters)

    assert with_one[1] == 1
    assert with_twenty == (with_one[0], 1 if kind == "phone search" else 20)


# --- Actions -------------------------------------------------------------------------------------------------------

LIST_ACTIONS = {
    "assign_advisor", "enroll_in_journey", "move_to_stage", "export_csv", "export_xlsx", "merge_duplicates"
}


def offered_actions(browser: Client) -> set[str]:
    response = browser.get(LIST_URL, {"client_book": "all"})
    return {name for name, _ in response.context["action_form"].fields["action"].choices} & LIST_ACTIONS


def test_each_role_is_offered_the_actions_its_permissions_allow(advisor_user, manager, head_office):
    assert offered_actions(logged_in(advisor_user)) == LIST_ACTIONS - {"merge_duplicates"}
    assert offered_actions(logged_in(manager)) == LIST_ACTIONS
    assert offered_actions(logged_in(head_office)) == LIST_ACTIONS


def test_assign_advisor_offers_the_active_advisors_of_the_clients_boutique_then_assigns(
    manager, paris, london, camille, other_paris_clients
):
    sophie = AdvisorFactory(boutique=paris, user__last_name="Sophie")
    AdvisorFactory(boutique=paris, user__last_name="Gone", is_active=False)
    AdvisorFactory(boutique=london, user__last_name="Londoner")
    Customer.objects.filter(pk=camille.pk).update(advisor=sophie)
    martin, louis = other_paris_clients
    browser = logged_in(manager)

    page = run_action(browser, "assign_advisor", [camille, martin])
    done = run_action(browser, "assign_advisor", [camille, martin], advisor=sophie.pk)

    assert page.status_code == 200
    assert page.templates[0].name == "admin/desk/assign_advisor.html"
    assert list(page.context["form"].fields["advisor"].queryset) == [manager.advisor, sophie]
    assert done.status_code == 302
    assert messages_of(done) == ["Camille Sophie is now the advisor of 1 client; 1 already had them."]
    assert dict(Customer.objects.values_list("pk", "advisor_id")) == {camille.pk: sophie.pk, martin.pk: sophie.pk,
                                                                      louis.pk: None}


def test_assign_advisor_refuses_a_selection_of_two_boutiques(head_office, paris, camille, oliver):
    before = state()

    response = run_action(logged_in(head_office), "assign_advisor", [camille, oliver])

    assert messages_of(response) == [
        "An advisor takes clients of their own boutique only: select clients of one boutique. Nothing was changed."
    ]
    assert state() == before


def test_enroll_in_a_journey_enrolls_each_client_at_the_first_stage_and_counts_those_already_in_it(
    manager, lifecycle, stages, camille, other_paris_clients
):
    martin, louis = other_paris_clients
    enrollment_enroll(customer=camille, journey=lifecycle, stage=stages[2])

    response = run_action(logged_in(manager), "enroll_in_journey", [camille, martin], journey=lifecycle.pk,
                          note="Spring campaign")

    assert messages_of(response) == ["Enrolled 1 client in Client lifecycle; 1 client already was in it."]
    assert dict(Enrollment.objects.values_list("customer_id", "stage_id")) == {
        camille.pk: stages[2].pk, martin.pk: stages[0].pk
    }
    assert list(
        Transition.objects.filter(enrollment__customer=martin).values_list("from_stage", "to_stage", "cause", "actor",
                                                                          "note")
    ) == [(None, stages[0].pk, "manual", manager.pk, "Spring campaign")]


def test_move_to_a_stage_moves_the_enrolled_enrolls_the_others_and_counts_those_already_there(
    manager, lifecycle, stages, camille, other_paris_clients
):
    martin, louis = other_paris_clients
    enrollment_enroll(customer=camille, journey=lifecycle, stage=stages[0])
    enrollment_enroll(customer=louis, journey=lifecycle, stage=stages[3])
    transitions_before = Transition.objects.count()

    response = run_action(logged_in(manager), "move_to_stage", [camille, martin, louis], stage=stages[3].pk,
                          note="Met at the trunk show", not_enrolled="enroll")

    assert messages_of(response) == [
        f"Moved 1 client to {stages[3]}; enrolled 1 client not yet in Client lifecycle straight into it; "
        "1 client already there."
    ]
    assert dict(Enrollment.objects.values_list("customer_id", "stage_id")) == {
        camille.pk: stages[3].pk, martin.pk: stages[3].pk, louis.pk: stages[3].pk
    }
    new = Transition.objects.order_by("pk")[transitions_before:]
    assert [(t.enrollment.customer_id, t.from_stage_id, t.to_stage_id, t.cause, t.actor_id, t.note) for t in new] == [
        (camille.pk, stages[0].pk, stages[3].pk, "manual", manager.pk, "Met at the trunk show"),
        (martin.pk, None, stages[3].pk, "manual", manager.pk, "Met at the trunk show"),
    ]


def test_move_to_a_stage_can_leave_out_clients_not_in_the_journey(manager, lifecycle, stages, camille,
                                                                 other_paris_clients):
    martin, _ = other_paris_clients
    enrollment_enroll(customer=camille, journey=lifecycle, stage=stages[0])

    response = run_action(logged_in(manager), "move_to_stage", [camille, martin], stage=stages[1].pk,
                          note="Asked for the new collection", not_enrolled="skip")

    assert messages_of(response) == [f"Moved 1 client to {stages[1]}; left out 1 client not in Client lifecycle."]
    assert dict(Enrollment.objects.values_list("customer_id", "stage_id")) == {camille.pk: stages[1].pk}


def test_move_to_a_stage_asks_for_a_reason(manager, lifecycle, stages, camille):
    enrollment_enroll(customer=camille, journey=lifecycle, stage=stages[0])
    before = state()

    response = run_action(logged_in(manager), "move_to_stage", [camille], stage=stages[1].pk, note="",
                          not_enrolled="enroll")

    assert response.status_code == 200
    assert response.context["form"].errors == {"note": ["This field is required."]}
    assert state() == before


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_the_csv_export_is_the_client_file_of_visible_clients_with_formula_cells_defused(manager, paris, camille,
                                                                                        oliver):
    tricky = add_client(5, paris, first_name='=HYPERLINK("http://evil.example")', last_name="@SUM(A1)",
                        email="tricky@example.com")

    rows = read_csv(run_action(logged_in(manager), "export_csv", [camille, tricky, oliver]))

    # The same file as `manage.py export_data customers` (imports.exports), which the importer reads back.
    assert rows[0] == list(CUSTOMER_COLUMNS)
    clients = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [(client["public_id"], client["pos_id"], client["first_name"], client["last_name"], client["email"],
             client["phone"], client["home_boutique"], client["value_tier"], client["lifetime_value"],
             client["order_count"]) for client in clients] == [
        (str(camille.public_id), "C-1", "Camille", "Durand", "camille@example.com", "'+33612345678", "PAR",
         "prospect", "0.00", "0"),
        (str(tricky.public_id), "C-5", "'=HYPERLINK(\"http://evil.example\")", "'@SUM(A1)", "tricky@example.com", "",
         "PAR", "prospect", "0.00", "0"),
    ]


@pytest.fixture
def duplicate(paris):
    sophie = AdvisorFactory(boutique=paris, user__last_name="Sophie")
    return customer_upsert(
        source=SourceSystem.CRM, external_id="D-1", email="c.durand@example.com", last_name="Durand", city="Lyon",
        home_boutique=paris, advisor=sophie,
    ).customer


def test_merge_shows_both_records_and_what_survives_then_merges(manager, camille, duplicate):
    buy(camille, 1, timezone.now() - dt.timedelta(days=3), total="1200.00")
    buy(duplicate, 2, timezone.now() - dt.timedelta(days=9), total="500.00")
    browser = logged_in(manager)

    page = run_action(browser, "merge_duplicates", [camille, duplicate])
    done = run_action(browser, "merge_duplicates", [camille, duplicate], surviving=camille.pk, reason="Same person")

    assert page.status_code == 200
    rows = {row["label"]: row for row in page.context["comparison"]}
    assert (rows["Email"]["first"], rows["Email"]["second"]) == ("camille@example.com", "c.durand@example.com")
    kept_if_camille = {label: (row["keep_first"].value, row["keep_first"].filled_from_merged)
                       for label, row in rows.items() if "keep_first" in row}
    kept_if_duplicate = {label: (row["keep_second"].value, row["keep_second"].filled_from_merged)
                         for label, row in rows.items() if "keep_second" in row}
    assert kept_if_camille["Email"] == ("camille@example.com", False)
    assert kept_if_camille["City"] == ("Lyon", True)
    assert kept_if_camille["Advisor"] == (duplicate.advisor, True)
    assert kept_if_duplicate["Email"] == ("c.durand@example.com", False)
    assert kept_if_duplicate["Phone"] == ("+33612345678", True)
    assert kept_if_duplicate["First name"] == ("Camille", True)
    assert (rows["Orders"]["combined"], rows["Lifetime value"]["combined"]) == (2, Decimal("1700.00"))
    assert rows["Identities"]["combined"] == "crm:D-1, pos:C-1"
    assert f"(from #{duplicate.pk})" in page.content.decode()

    assert done.status_code == 302
    assert done.url == reverse("admin:customers_customer_change", args=[camille.pk])
    assert messages_of(done) == [
        f"Merged Durand (#{duplicate.pk}) into Camille Durand (moved: identities 1, interactions 1, orders 1)."
    ]
    camille.refresh_from_db()
    assert (camille.email, camille.city, camille.advisor_id, camille.order_count, camille.lifetime_value) == (
        "camille@example.com", "Lyon", duplicate.advisor_id, 2, Decimal("1700.00")
    )
    assert list(Customer.objects.values_list("pk", flat=True)) == [camille.pk]
    assert list(CustomerMerge.objects.values_list("surviving_customer", "merged_public_id", "merged_by", "reason")) == [
        (camille.pk, duplicate.public_id, manager.pk, "Same person")
    ]


@pytest.mark.parametrize("count", [1, 3])
def test_merge_needs_exactly_two_clients(manager, camille, duplicate, other_paris_clients, count):
    selection = [camille, duplicate, *other_paris_clients][:count]
    before = state()

    response = run_action(logged_in(manager), "merge_duplicates", selection, surviving=camille.pk)

    described = "one" if count == 1 else "more than two"
    assert messages_of(response) == [
        f"Select exactly two clients to merge ({described} selected). Nothing was changed."
    ]
    assert state() == before


def test_an_advisor_cannot_merge(advisor_user, camille, duplicate):
    before = state()

    response = run_action(logged_in(advisor_user), "merge_duplicates", [camille, duplicate], surviving=camille.pk)

    assert response.status_code == 302
    assert messages_of(response) == ["No action selected."]
    assert state() == before


@pytest.fixture
def london_pair(london):
    return [add_client(10, london, first_name="Oliver", last_name="Smith"),
            add_client(11, london, first_name="Olivia", last_name="Smith")]


def choices_for(action: str, *, manager, lifecycle, stages, selection) -> dict[str, object]:
    return {
        "assign_advisor": {"advisor": manager.advisor.pk},
        "enroll_in_journey": {"journey": lifecycle.pk},
        "move_to_stage": {"stage": stages[1].pk, "note": "Trunk show", "not_enrolled": "enroll"},
        "merge_duplicates": {"surviving": selection[0].pk},
    }[action]


@pytest.mark.parametrize("action", ["assign_advisor", "enroll_in_journey", "move_to_stage", "merge_duplicates"])
@pytest.mark.parametrize("step", ["action bar", "confirmation"])
def test_no_action_reaches_another_boutiques_clients(manager, lifecycle, stages, london_pair, action, step):
    enrollment_enroll(customer=london_pair[0], journey=lifecycle)
    before = state()
    choices = {} if step == "action bar" else choices_for(
        action, manager=manager, lifecycle=lifecycle, stages=stages, selection=london_pair
    )

    response = run_action(logged_in(manager), action, london_pair, **choices)

    assert response.status_code == 302
    assert messages_of(response) == ["None of the selected clients is on your list; nothing was changed."]
    assert state() == before


def test_another_boutiques_client_mixed_into_a_selection_is_left_out(manager, camille, london_pair):
    run_action(logged_in(manager), "assign_advisor", [camille, *london_pair], advisor=manager.advisor.pk)

    assert dict(Customer.objects.values_list("pk", "advisor_id")) == {
        camille.pk: manager.advisor.pk, london_pair[0].pk: None, london_pair[1].pk: None
    }


def test_the_csv_export_of_another_boutiques_clients_is_empty(manager, london_pair):
    rows = read_csv(run_action(logged_in(manager), "export_csv", london_pair))

    assert len(rows) == 1  # the header alone
