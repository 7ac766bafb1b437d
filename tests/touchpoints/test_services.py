"""Touchpoint services: interactions and orders recorded once, metrics kept right through returns and cancellations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError
from customers.models import Customer
from customers.services import customer_upsert
from tests.factories import BoutiqueFactory, ProductFactory
from touchpoints.models import Interaction, Order, OrderLine
from touchpoints.services import OrderLineData, customer_metrics_refresh, interaction_record, order_record

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(day: int, month: int = 3, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 15, tzinfo=UTC)


@pytest.fixture
def client_record() -> Customer:
    return customer_upsert(source="crm", external_id="C-1", email="claire@example.com").customer


def sale(customer, external_id="O-1", *, lines=None, total=None, **extra):
    if lines is None:
        lines = [OrderLineData(sku="BAG-1", quantity=1, unit_price="2400.00")]
    total = total if total is not None else sum(Decimal(str(line.unit_price)) * line.quantity for line in lines)
    values = {"source": "pos", "external_id": external_id, "customer": customer, "placed_at": at(1),
              "currency": "EUR", "total": total, "lines": lines}
    return order_record(**{**values, **extra})


# --- interactions ----------------------------------------------------------------------------------------


def test_the_same_interaction_replayed_is_recorded_once(client_record):
    first = interaction_record(customer=client_record, touchpoint_type="store_visit", occurred_at=at(2),
                               source="pos", external_id="visit-1")

    again = interaction_record(customer=client_record, touchpoint_type="store_visit", occurred_at=at(2),
                               source="pos", external_id="visit-1")

    assert (first.created, again.created, again.record.pk) == (True, False, first.record.pk)
    assert Interaction.objects.count() == 1


def test_the_same_external_id_from_another_source_is_another_interaction(client_record):
    interaction_record(customer=client_record, touchpoint_type="store_visit", occurred_at=at(2), source="pos",
                       external_id="42")
    interaction_record(customer=client_record, touchpoint_type="product_view", occurred_at=at(2),
                       source="ecommerce", external_id="42")

    assert Interaction.objects.count() == 2


def test_an_interaction_takes_its_type_channel_and_moves_last_seen_forward_only(client_record):
    interaction_record(customer=client_record, touchpoint_type="product_view", occurred_at=at(9), source="ecommerce")
    result = interaction_record(customer=client_record, touchpoint_type="store_visit", occurred_at=at(3),
                                source="pos")

    client_record.refresh_from_db()
    assert result.record.channel == "boutique"
    assert client_record.last_interaction_at == at(9)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"touchpoint_type": "teleportation"}, "touchpoint_type"),
        ({"occurred_at": dt.datetime(2026, 3, 1, 10)}, "occurred_at"),  # noqa: DTZ001 - the point of the test
        ({"amount": "-5.00", "currency": "EUR"}, "amount"),
        ({"amount": "12.00"}, "currency"),
        ({"amount": "twelve", "currency": "EUR"}, "amount"),
        ({"channel": "pigeon"}, "channel"),
        ({"source": "fax"}, "source"),
    ],
)
def test_bad_interactions_are_refused_with_the_field_named(client_record, values, field):
    arguments = {"customer": client_record, "touchpoint_type": "store_visit", "occurred_at": at(1), "source": "pos",
                 **values}

    with pytest.raises(ApplicationError) as refused:
        interaction_record(**arguments)

    assert list(refused.value.fields) == [field]
    assert Interaction.objects.count() == 0


# --- orders ----------------------------------------------------------------------------------------------


def test_an_order_is_recorded_with_its_lines_on_the_timeline_and_in_the_metrics(client_record):
    product = ProductFactory(sku="BAG-1", name="Sac Aurore", category="Handbags")

    result = sale(client_record, lines=[
        OrderLineData(sku="BAG-1", quantity=1, unit_price="2400.00"),
        OrderLineData(sku="SCARF-2", quantity=2, unit_price="300.00", product_name="Silk scarf"),
    ])

    order = result.record
    assert (result.created, order.total, order.total_house) == (True, Decimal("3000.00"), Decimal("3000.00"))
    assert list(order.lines.values_list("line_number", "sku", "product_id", "product_name", "category")) == [
        (1, "BAG-1", product.pk, "Sac Aurore", "Handbags"), (2, "SCARF-2", None, "Silk scarf", ""),
    ]
    purchase = Interaction.objects.get()
    assert (purchase.touchpoint_type.code, purchase.order, purchase.amount, purchase.external_id) == (
        "purchase", order, Decimal("3000.00"), "order:O-1"
    )
    client_record.refresh_from_db()
    assert (client_record.lifetime_value, client_record.order_count, client_record.average_order_value) == (
        Decimal("3000.00"), 1, Decimal("3000.00")
    )
    assert (client_record.first_order_at, client_record.last_order_at) == (at(1), at(1))
    assert client_record.value_tier == "client"


def test_a_replayed_order_changes_nothing(client_record):
    sale(client_record)

    again = sale(client_record)

    assert (again.created, again.changed) == (False, False)
    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (1, 1, 1)


def test_a_cancelled_order_leaves_the_metrics(client_record):
    sale(client_record, "O-1", placed_at=at(1))
    sale(client_record, "O-2", placed_at=at(5), lines=[OrderLineData(sku="RING", quantity=1, unit_price="600.00")])

    result = sale(client_record, "O-2", placed_at=at(5), status="cancelled",
                  lines=[OrderLineData(sku="RING", quantity=1, unit_price="600.00")])

    client_record.refresh_from_db()
    assert (result.created, result.changed) == (False, True)
    assert (client_record.lifetime_value, client_record.order_count, client_record.last_order_at) == (
        Decimal("2400.00"), 1, at(1)
    )


def test_a_partial_return_reduces_the_value_and_a_full_return_removes_it(client_record):
    lines = [OrderLineData(sku="BAG-1", quantity=1, unit_price="2400.00"),
             OrderLineData(sku="BELT", quantity=1, unit_price="400.00")]
    sale(client_record, lines=lines)

    sale(client_record, lines=[*lines, OrderLineData(sku="BELT", quantity=-1, unit_price="400.00", is_return=True)])
    client_record.refresh_from_db()
    assert (client_record.lifetime_value, client_record.order_count) == (Decimal("2400.00"), 1)

    sale(client_record, lines=[*lines, OrderLineData(sku="BELT", quantity=-1, unit_price="400.00", is_return=True)],
         status="returned")
    client_record.refresh_from_db()
    assert (client_record.lifetime_value, client_record.order_count, client_record.value_tier) == (
        Decimal("0.00"), 0, "prospect"
    )
    assert list(Interaction.objects.order_by("pk").values_list("touchpoint_type__code", "external_id")) == [
        ("purchase", "order:O-1"), ("return", "order:O-1:returned"),
    ]


def test_a_return_receipt_reduces_the_value_but_is_not_an_order(client_record):
    sale(client_record, "O-1")

    sale(client_record, "R-1", placed_at=at(8),
         lines=[OrderLineData(sku="BAG-1", quantity=-1, unit_price="2400.00", is_return=True)])

    client_record.refresh_from_db()
    assert (client_record.lifetime_value, client_record.order_count) == (Decimal("0.00"), 1)
    assert Interaction.objects.get(external_id="order:R-1").touchpoint_type.code == "return"


def test_order_totals_are_converted_to_the_house_currency(client_record):
    london = BoutiqueFactory(code="LON", country="GB", currency="GBP")

    result = sale(client_record, currency="GBP", boutique=london,
                  lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="1000.00")])

    client_record.refresh_from_db()
    assert (result.record.total, result.record.total_house) == (Decimal("1000.00"), Decimal("1170.00"))
    assert client_record.lifetime_value == Decimal("1170.00")


@pytest.mark.parametrize(
    ("values", "fields", "message"),
    [
        ({"total": "2500.00"}, {"total": ["The lines add up to 2400.00, not 2500.00."]}, None),
        ({"lines": [OrderLineData(sku="A", quantity=1, unit_price="10"),
                    OrderLineData(sku="B", quantity=-1, unit_price="10")], "total": "0"},
         {"lines[2].quantity": ["Negative quantity -1 on a line that is not a return."]}, "Some order lines"),
        ({"lines": [OrderLineData(sku="", quantity=0, unit_price="10")], "total": "0"},
         {"lines[1].sku": ["A line needs a SKU."], "lines[1].quantity": ["A line cannot have a quantity of zero."]},
         None),
        ({"lines": [OrderLineData(sku="A", quantity=1, unit_price="-10")], "total": "-10"},
         {"lines[1].unit_price": ["A unit price cannot be negative."]}, None),
        ({"currency": "XXX"}, None, "No exchange rate for 'XXX'"),
        ({"status": "lost"}, {"status": ["Unknown order status 'lost'."]}, None),
        ({"lines": []}, {"lines": ["An order needs at least one line."]}, None),
        ({"external_id": " "}, {"external_id": ["An order needs the id its source system gave it."]}, None),
    ],
)
def test_bad_orders_are_refused_and_nothing_is_written(client_record, values, fields, message):
    with pytest.raises(ApplicationError) as refused:
        sale(client_record, **values)

    if fields is not None:
        assert refused.value.fields == fields
    if message is not None:
        assert message in refused.value.message or message in str(refused.value.fields)
    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (0, 0, 0)
    client_record.refresh_from_db()
    assert client_record.order_count == 0


# --- metrics -----------------------------------------------------------------------------------------------


def test_tiers_and_rfm_scores_follow_the_documented_thresholds(client_record):
    other = customer_upsert(source="crm", external_id="C-2", email="other@example.com").customer
    for number in range(5):
        sale(client_record, f"O-{number}", placed_at=at(1 + number),
             lines=[OrderLineData(sku="WATCH", quantity=1, unit_price="11000.00")])

    customer_metrics_refresh(now=at(20))

    client_record.refresh_from_db()
    other.refresh_from_db()
    assert (client_record.lifetime_value, client_record.value_tier) == (Decimal("55000.00"), "platinum")
    assert (client_record.recency_score, client_record.frequency_score, client_record.monetary_score) == (5, 4, 5)
    assert (other.value_tier, other.recency_score, other.frequency_score, other.monetary_score) == (
        "prospect", None, None, None
    )


def test_recency_ages_with_the_calendar(client_record):
    sale(client_record, placed_at=at(1, month=1, year=2025))

    changed = customer_metrics_refresh(customer_ids=[client_record.pk], now=at(1, month=6, year=2025))
    client_record.refresh_from_db()
    assert (changed, client_record.recency_score) == (1, 3)

    assert customer_metrics_refresh(customer_ids=[client_record.pk], now=at(1, month=6, year=2025)) == 0
    customer_metrics_refresh(customer_ids=[client_record.pk], now=at(1, month=6, year=2026))
    client_record.refresh_from_db()
    assert client_record.recency_score == 1


def test_metrics_refresh_costs_one_query_whatever_the_number_of_clients(client_record):
    for number in range(3):
        customer = customer_upsert(source="crm", external_id=f"X-{number}", email=f"x{number}@example.com").customer
        sale(customer, f"O-{number}")

    with CaptureQueriesContext(connection) as queries:
        customer_metrics_refresh()

    assert len(queries) == 1


@pytest.mark.parametrize(
    ("external_id", "message"),
    [("O\x001", "An id holds printable characters only."), ("O\t1", "An id holds printable characters only."),
     ("O\ud8001", "An id holds printable characters only."), ("O" * 129, "An id has at most 128 characters, not 129."),
     (float("nan"), "nan is not an id: give text or a whole number."),
     (float("inf"), "inf is not an id: give text or a whole number.")],
    ids=["nul", "tab", "lone-surrogate", "too-long", "nan", "infinity"],
)
def test_an_order_id_that_is_no_printable_bounded_text_is_refused(client_record, external_id, message):
    with pytest.raises(ApplicationError) as refused:
        sale(client_record, external_id)

    assert refused.value.fields == {"external_id": [message]}
    assert Order.objects.count() == 0


def test_an_interaction_id_with_a_control_character_is_refused(client_record):
    with pytest.raises(ApplicationError) as refused:
        interaction_record(customer=client_record, touchpoint_type="store_visit", occurred_at=at(2),
                           source="pos", external_id="V\x1b1")

    assert refused.value.fields == {"external_id": ["An id holds printable characters only."]}
    assert Interaction.objects.count() == 0
