"""Business dates outside the accepted range (core.moments): refused on every way in, repaired where stored."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse

from core.errors import ApplicationError
from core.models import MomentRepair
from core.moments import HAPPENED_LATEST_SQL, repair_sql
from customers.models import Advisor, ConsentEvent, Customer
from customers.services import consent_record
from journeys.models import HandsOff, Journey
from journeys.services import enrollment_enroll
from journeys.services.hands_off import hands_off_set
from tests.api.conftest import key_client, make_client
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, make_staff
from tests.webhooks.conftest import encode, sample, shopify_post, webhook_secrets  # noqa: F401 (autouse)
from touchpoints.models import Interaction, Order
from touchpoints.services import OrderLineData, interaction_record, order_record
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z"]
HAPPENED_MESSAGE = "is out of range: give a moment from 1900-01-01 to at most one day from now."


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris")


@pytest.fixture
def ana(paris):
    return make_client(paris, "ana@example.com")


def test_a_signed_shopify_order_placed_in_the_year_one_is_refused_and_not_stored(client):
    body = encode({**sample("order.json"), "created_at": "0001-01-01T00:00:00+14:00"})

    response = shopify_post(client, body, topic="orders/create", event_id="y-1")

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code) == ("failed", "invalid")
    assert delivery.error_message == f"created_at: 0001-01-01T00:00:00+14:00 {HAPPENED_MESSAGE}"
    assert (Order.objects.count(), Interaction.objects.count(), Customer.objects.count()) == (0, 0, 0)


def test_a_webhook_version_in_the_far_future_is_refused(client):
    # Kept as the order's version, it would make every later update look stale.
    body = encode({**sample("order.json"), "updated_at": "9999-12-31T23:59:59Z"})

    shopify_post(client, body, topic="orders/create", event_id="y-2")

    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "failed"
    assert delivery.error_message == f"updated_at: 9999-12-31T23:59:59+00:00 {HAPPENED_MESSAGE}"
    assert Order.objects.count() == 0


@pytest.mark.parametrize("moment", OUT_OF_RANGE)
def test_the_api_refuses_an_interaction_out_of_range_with_a_400(ana, moment):
    api, _ = key_client(scopes=["interactions:write"])
    body = {"customer": str(ana.public_id), "touchpoint_type": "store_visit", "source": "ecommerce",
            "occurred_at": moment, "external_id": "V-1"}

    response = api.post("/api/v1/interactions/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["occurred_at"]
    assert "out of range" in response.json()["extra"]["fields"]["occurred_at"][0]
    assert Interaction.objects.count() == 0


def test_bulk_refuses_each_interaction_out_of_range_and_writes_the_others(ana):
    api, _ = key_client(scopes=["interactions:write"])
    item = {"customer": str(ana.public_id), "touchpoint_type": "store_visit", "source": "ecommerce"}
    items = [{**item, "external_id": "V-1", "occurred_at": "9999-12-31T23:59:59Z"},
             {**item, "external_id": "V-2", "occurred_at": "2026-03-01T10:00:00Z"}]

    response = api.post("/api/v1/interactions/bulk/", {"items": items}, format="json")

    results = response.json()["results"]
    assert [result["status"] for result in results] == ["invalid", "created"]
    assert results[0]["errors"] == {"occurred_at": [f"9999-12-31T23:59:59+00:00 {HAPPENED_MESSAGE}"]}
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["V-2"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_the_api_refuses_an_order_out_of_range_with_a_400(ana, moment):
    api, _ = key_client(scopes=["orders:write"])
    body = {"customer": str(ana.public_id), "source": "ecommerce", "external_id": "O-1", "placed_at": moment,
            "currency": "EUR", "total": "10.00", "lines": [{"sku": "BAG-1", "quantity": 1, "unit_price": "10.00"}]}

    response = api.post("/api/v1/orders/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["placed_at"]
    assert Order.objects.count() == 0


def test_a_moment_one_day_ahead_is_accepted_and_two_days_ahead_refused(ana):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)

    interaction_record(customer=ana, touchpoint_type="store_visit", occurred_at=soon, source="atelier")
    with pytest.raises(ApplicationError) as refused:
        interaction_record(customer=ana, touchpoint_type="store_visit", occurred_at=soon + dt.timedelta(days=1),
                           source="atelier", external_id="later")

    assert list(refused.value.fields) == ["occurred_at"]
    assert Interaction.objects.count() == 1


def test_a_consent_event_before_1900_is_refused(ana):
    with pytest.raises(ApplicationError) as refused:
        consent_record(customer=ana, channel="email", purpose="marketing", is_granted=True,
                       occurred_at=dt.datetime(1899, 12, 31, tzinfo=dt.UTC), source="crm")

    assert list(refused.value.fields) == ["occurred_at"]
    assert ConsentEvent.objects.count() == 0


def test_a_hands_off_beyond_ten_years_is_refused(ana):
    with pytest.raises(ApplicationError) as refused:
        hands_off_set(customer=ana, actor=None, until=dt.datetime.now(dt.UTC) + dt.timedelta(days=3661))

    assert refused.value.fields == {"until": [refused.value.message]}
    assert "at most ten years from now" in refused.value.message
    assert HandsOff.objects.count() == 0


# --- the repair of dates already stored --------------------------------------------------------------------------

CONSTRAINTS = [  # (table, constraint, column)
    ("touchpoints_order", "order_placed_at_in_range", "placed_at"),
    ("touchpoints_interaction", "interaction_occurred_at_in_range", "occurred_at"),
    ("customers_customer", "customer_first_order_at_in_range", "first_order_at"),
    ("customers_customer", "customer_last_order_at_in_range", "last_order_at"),
    ("customers_customer", "customer_last_interaction_at_in_range", "last_interaction_at"),
    ("journeys_enrollment", "enrollment_stage_entered_at_in_range", "stage_entered_at"),
]


def _store_as_before_the_range_existed(ana) -> Order:
    """What the issue found stored: an order of 1 BC (0001-01-01T00:00:00+14:00) and a visit of 9999-12-31."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixtures' deferred checks would stop the ALTER TABLE
        for table, name, _column in CONSTRAINTS:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    order = order_record(customer=ana, source="ecommerce", external_id="O-1", currency="EUR", total="10.00",
                         placed_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                         lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="10.00")]).record
    visit = interaction_record(customer=ana, touchpoint_type="store_visit", source="atelier",
                               occurred_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC)).record
    enrollment, _ = enrollment_enroll(customer=ana, journey=Journey.objects.get(name="Client lifecycle"))
    year_one, year_9999 = "'0001-01-01T00:00:00+14:00'", "'9999-12-31T23:59:59Z'"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE touchpoints_order SET placed_at = {year_one} WHERE id = %s", [order.pk])
        cursor.execute(f"UPDATE touchpoints_interaction SET occurred_at = {year_one} WHERE order_id = %s", [order.pk])
        cursor.execute(f"UPDATE touchpoints_interaction SET occurred_at = {year_9999} WHERE id = %s", [visit.pk])
        cursor.execute(f"UPDATE customers_customer SET first_order_at = {year_one}, last_order_at = {year_one}, "
                       f"last_interaction_at = {year_9999} WHERE id = %s", [ana.pk])
        cursor.execute(f"UPDATE journeys_enrollment SET stage_entered_at = {year_9999} WHERE id = %s",
                       [enrollment.pk])
    return order


def _repair() -> None:
    """What the migrations do: the repair, then the CHECK constraints added again (they hold once repaired)."""
    with connection.cursor() as cursor:
        for table, _name, column in CONSTRAINTS:
            for statement in repair_sql(table, column, latest=HAPPENED_LATEST_SQL):
                cursor.execute(statement)
        for table, name, column in CONSTRAINTS:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                           f"CHECK ({column} >= '1900-01-01Z' AND {column} < '2200-01-01Z')")


def test_the_repair_brings_stored_dates_into_range_and_records_each_change(ana):
    order = _store_as_before_the_range_existed(ana)

    _repair()

    earliest = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
    order.refresh_from_db()
    ana.refresh_from_db()
    assert order.placed_at == earliest
    assert (ana.first_order_at, ana.last_order_at) == (earliest, earliest)
    assert ana.last_interaction_at < dt.datetime.now(dt.UTC) + dt.timedelta(days=1, minutes=1)
    assert sorted(Interaction.objects.values_list("occurred_at", flat=True))[0] == earliest
    repairs = sorted(MomentRepair.objects.values_list("table_name", "column_name", "original"))
    assert repairs == [
        ("customers_customer", "first_order_at", "0001-12-31 10:00:00+00 BC"),
        ("customers_customer", "last_interaction_at", "9999-12-31 23:59:59+00"),
        ("customers_customer", "last_order_at", "0001-12-31 10:00:00+00 BC"),
        ("journeys_enrollment", "stage_entered_at", "9999-12-31 23:59:59+00"),
        ("touchpoints_interaction", "occurred_at", "0001-12-31 10:00:00+00 BC"),
        ("touchpoints_interaction", "occurred_at", "9999-12-31 23:59:59+00"),
        ("touchpoints_order", "placed_at", "0001-12-31 10:00:00+00 BC"),
    ]


def test_after_the_repair_the_pages_the_issue_named_answer(ana, paris):
    _store_as_before_the_range_existed(ana)
    _repair()
    head_office = make_staff(Advisor.Role.HEAD_OFFICE)
    browser = logged_in(head_office)
    api, _ = key_client(scopes=["customers:read", "journeys:read"])

    pages = {
        "client list": browser.get(reverse("admin:customers_customer_changelist")),
        "client page": browser.get(reverse("admin:customers_customer_change", args=[ana.pk])),
        "customers by email": api.get("/api/v1/customers/", {"email": "ana@example.com"}),
        "orders by placed_at": api.get("/api/v1/orders/", {"ordering": "placed_at"}),
        "enrollments": api.get("/api/v1/enrollments/"),
    }

    assert {name: response.status_code for name, response in pages.items()} == dict.fromkeys(pages, 200)
