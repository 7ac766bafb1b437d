"""The batch services: orders_record_many and interactions_record_many answer one result per item, write a batch
with a fixed number of statements, and keep the rules of the row services (which are batches of one)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.services import customer_upsert
from customers.services.activity import (
    customers_last_interaction_record_many,
    customers_last_interaction_reset_many,
)
from touchpoints.models import Interaction, Order, OrderLine, TouchpointType
from touchpoints.services.interactions import InteractionItem, interactions_record_many
from touchpoints.services.orders import OrderItem, OrderLineData, orders_record_many

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 3, day, 15, tzinfo=UTC)


@pytest.fixture
def claire() -> Customer:
    return customer_upsert(source="crm", external_id="C-1", email="claire@example.com").customer


@pytest.fixture
def marc() -> Customer:
    return customer_upsert(source="crm", external_id="C-2", email="marc@example.com").customer


def order(customer: Customer, external_id: str, *, price: str = "100.00", quantity: int = 1, **extra) -> OrderItem:
    values = {"source": "pos", "external_id": external_id, "customer_id": customer.pk, "placed_at": at(1),
              "currency": "EUR", "total": Decimal(price) * quantity,
              "lines": [OrderLineData(sku="BAG-1", quantity=quantity, unit_price=price)]}
    return OrderItem(**{**values, **extra})


_types: dict[str, TouchpointType] = {}


def visit(customer: Customer, external_id: str, *, day: int = 2, **extra) -> InteractionItem:
    store_visit = _types.get("store_visit") or _types.setdefault(
        "store_visit", TouchpointType.objects.get(code="store_visit"))
    return InteractionItem(customer_id=customer.pk, touchpoint_type=store_visit, occurred_at=at(day), source="pos",
                           external_id=external_id, **extra)


# --- orders ------------------------------------------------------------------------------------------------------


def test_a_batch_of_orders_answers_created_updated_unchanged_and_refused_per_item(claire):
    orders_record_many(items=[order(claire, "O-1"), order(claire, "O-2")])

    results = orders_record_many(items=[
        order(claire, "O-1"),                         # the same again
        order(claire, "O-2", status="fulfilled"),     # another status
        order(claire, "O-3"),                         # new
        order(claire, "O-4", total="1.00"),           # lines that do not add up
    ])

    assert [result.status for result in results] == ["unchanged", "updated", "created", "refused"]
    assert results[1].changed_fields == ["status"]
    assert results[1].previous["status"] == "placed"
    assert results[3].reason == "The lines add up to 100.00, not 1.00."
    assert results[3].record_id is None
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["O-1", "O-2", "O-3"]
    assert OrderLine.objects.count() == 3
    claire.refresh_from_db()
    assert (claire.order_count, claire.lifetime_value) == (3, Decimal("300.00"))


def test_each_order_of_a_batch_is_on_its_clients_timeline(claire, marc):
    results = orders_record_many(items=[order(claire, "O-1"), order(marc, "O-2", price="50.00")])

    purchases = Interaction.objects.filter(touchpoint_type__code="purchase").order_by("external_id")
    assert [(i.customer_id, i.order_id, i.amount) for i in purchases] == [
        (claire.pk, results[0].record_id, Decimal("100.00")), (marc.pk, results[1].record_id, Decimal("50.00")),
    ]
    assert [len(result.interaction_ids) for result in results] == [1, 1]
    claire.refresh_from_db()
    marc.refresh_from_db()
    assert (claire.last_interaction_at, marc.last_interaction_at) == (at(1), at(1))


def test_the_same_order_twice_in_a_batch_is_applied_in_turn(claire):
    results = orders_record_many(items=[order(claire, "O-1"), order(claire, "O-1", status="returned")])

    assert [result.status for result in results] == ["created", "updated"]
    recorded = Order.objects.get()
    assert recorded.status == "returned"
    assert sorted(Interaction.objects.values_list("touchpoint_type__code", flat=True)) == ["purchase", "return"]


def test_an_order_sent_again_for_another_client_moves_with_its_timeline(claire, marc):
    orders_record_many(items=[order(claire, "O-1")])

    [result] = orders_record_many(items=[order(marc, "O-1")])

    assert (result.status, result.changed_fields, result.previous["customer_id"]) == (
        "updated", ["customer_id"], claire.pk)
    assert set(Interaction.objects.values_list("customer_id", flat=True)) == {marc.pk}
    claire.refresh_from_db()
    marc.refresh_from_db()
    assert (claire.order_count, marc.order_count) == (0, 1)


def test_an_order_with_other_lines_has_its_lines_replaced(claire):
    orders_record_many(items=[order(claire, "O-1")])

    [result] = orders_record_many(items=[order(claire, "O-1", quantity=2)])

    assert (result.status, result.lines_changed, result.changed_fields) == ("updated", True, ["total", "total_house"])
    assert result.previous_lines[0][1:2] == ("BAG-1",)
    assert list(OrderLine.objects.values_list("quantity", flat=True)) == [2]


def test_a_batch_of_orders_takes_the_same_statements_for_ten_orders_as_for_two(claire):
    with CaptureQueriesContext(connection) as two:
        orders_record_many(items=[order(claire, f"A-{n}") for n in range(2)])
    with CaptureQueriesContext(connection) as ten:
        orders_record_many(items=[order(claire, f"B-{n}") for n in range(10)])

    assert len(ten) == len(two)
    assert Order.objects.count() == 12


def test_a_refused_order_writes_nothing_and_the_others_are_written(claire):
    results = orders_record_many(items=[order(claire, "O-1", currency="XXX"), order(claire, "O-2")])

    assert [result.status for result in results] == ["refused", "created"]
    assert results[0].error.fields == {"currency": [results[0].reason]}
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O-2"]
    assert Interaction.objects.count() == 1


def test_a_value_the_columns_cannot_hold_is_refused_with_its_field(claire):
    [result] = orders_record_many(items=[order(claire, "O-1", lines=[
        OrderLineData(sku="S" * 41, quantity=1, unit_price="100.00")])])

    assert (result.status, list(result.error.fields)) == ("refused", ["lines[1].sku"])
    assert not Order.objects.exists()


# --- interactions ------------------------------------------------------------------------------------------------


def test_a_batch_of_interactions_answers_one_result_per_item(claire):
    interactions_record_many(items=[visit(claire, "V-1")])

    results = interactions_record_many(items=[
        visit(claire, "V-1"), visit(claire, "V-2"), visit(claire, "V-2"), visit(claire, "V-3", amount="-1"),
    ])

    assert [result.status for result in results] == ["unchanged", "created", "unchanged", "refused"]
    assert results[2].record_id == results[1].record_id
    assert results[3].reason == "An interaction's amount cannot be negative."
    assert Interaction.objects.count() == 2


def test_recorded_interactions_move_the_clients_last_interaction_on_never_back(claire):
    interactions_record_many(items=[visit(claire, "V-1", day=9)])
    interactions_record_many(items=[visit(claire, "V-2", day=3), visit(claire, "V-3", day=5)])

    claire.refresh_from_db()
    assert claire.last_interaction_at == at(9)


def test_a_batch_of_interactions_takes_the_same_statements_for_ten_as_for_two(claire):
    with CaptureQueriesContext(connection) as two:
        interactions_record_many(items=[visit(claire, f"A-{n}") for n in range(2)])
    with CaptureQueriesContext(connection) as ten:
        interactions_record_many(items=[visit(claire, f"B-{n}") for n in range(10)])

    assert len(ten) == len(two)


# --- the client's last interaction (customers) -------------------------------------------------------------------


def test_the_last_interaction_is_moved_on_only_when_later(claire, marc):
    customers_last_interaction_record_many(moments={claire.pk: at(5), marc.pk: at(5)})

    changed = customers_last_interaction_record_many(moments={claire.pk: at(4), marc.pk: at(6)})

    claire.refresh_from_db()
    marc.refresh_from_db()
    assert (changed, claire.last_interaction_at, marc.last_interaction_at) == (1, at(5), at(6))


def test_the_last_interaction_is_reset_to_what_is_left(claire, marc):
    customers_last_interaction_record_many(moments={claire.pk: at(5), marc.pk: at(5)})

    customers_last_interaction_reset_many(customer_ids=[claire.pk, marc.pk], latest={claire.pk: at(2)})

    claire.refresh_from_db()
    marc.refresh_from_db()
    assert (claire.last_interaction_at, marc.last_interaction_at) == (at(2), None)
