"""Bulk recording: a result per item, valid items written whatever the others, replays recorded once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError
from customers.models import Customer, CustomerIdentity
from customers.services import customer_upsert
from tests.factories import BoutiqueFactory
from touchpoints.models import Interaction, Order
from touchpoints.services.bulk import interactions_record_bulk, orders_record_bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def claire() -> Customer:
    return customer_upsert(source="crm", external_id="C-1", email="claire@example.com").customer


def visit(customer: Customer, external_id: str = "", **extra) -> dict:
    return {"customer": str(customer.public_id), "touchpoint_type": "store_visit", "source": "pos",
            "occurred_at": "2026-03-02T15:00:00+01:00", "external_id": external_id, **extra}


def sale(customer: Customer, external_id: str = "O-1", **extra) -> dict:
    return {"customer": str(customer.public_id), "source": "ecommerce", "external_id": external_id,
            "placed_at": "2026-03-01T10:00:00Z", "currency": "EUR", "total": "2400.00",
            "lines": [{"sku": "BAG-1", "quantity": 1, "unit_price": "2400.00"}], **extra}


def test_a_batch_reports_created_unchanged_and_invalid_items_in_order(claire):
    interactions_record_bulk(items=[visit(claire, "V-0")])

    results = interactions_record_bulk(items=[
        visit(claire, "V-1"),
        visit(claire, "V-0"),  # recorded by an earlier batch
        visit(claire, "V-1"),  # earlier in this batch
        visit(claire, "V-2", touchpoint_type="no_such_type"),
        visit(claire, "V-3", occurred_at="2026-03-02T15:00:00"),
        visit(claire, ""),
        "not an object",
    ])

    statuses = [result.status for result in results]
    assert statuses == ["created", "unchanged", "unchanged", "invalid", "invalid", "created", "invalid"]
    assert results[2].record_id == results[0].record_id
    assert results[1].record_id == Interaction.objects.get(external_id="V-0").pk
    assert results[3].errors == {"touchpoint_type": ["Unknown touchpoint type 'no_such_type'."]}
    assert list(results[4].errors) == ["occurred_at"]
    assert Interaction.objects.count() == 3
    assert set(Interaction.objects.values_list("external_id", flat=True)) == {"V-0", "V-1", ""}


def test_interaction_clean_rules_apply_to_each_item(claire):
    results = interactions_record_bulk(items=[
        visit(claire, "A", amount="-5", currency="EUR"),
        visit(claire, "B", amount="15", currency=""),
        visit(claire, "C", source="fax"),
        visit(claire, "D", channel="pigeon"),
        visit(claire, "E", metadata=[1, 2]),
        visit(claire, "F", touchpoint_type="purchase"),
    ])

    assert [next(iter(result.errors)) for result in results] == [
        "amount", "currency", "source", "channel", "metadata", "touchpoint_type",
    ]
    assert Interaction.objects.count() == 0


def test_created_interactions_move_the_clients_last_interaction_on_never_back(claire):
    interactions_record_bulk(items=[visit(claire, "late", occurred_at="2026-03-09T10:00:00Z"),
                                    visit(claire, "early", occurred_at="2026-03-01T10:00:00Z")])
    interactions_record_bulk(items=[visit(claire, "earlier", occurred_at="2026-02-01T10:00:00Z")])

    claire.refresh_from_db()
    assert claire.last_interaction_at == dt.datetime(2026, 3, 9, 10, tzinfo=dt.UTC)


def test_values_are_written_as_interaction_record_would(claire):
    boutique = BoutiqueFactory(code="PAR")

    [result] = interactions_record_bulk(items=[
        visit(claire, "V-9", touchpoint_type="product_view", boutique="PAR", amount="12.5", currency="eur",
              metadata={"sku": "BAG-1"}),
    ])

    interaction = Interaction.objects.get(pk=result.record_id)
    assert (interaction.customer_id, interaction.touchpoint_type.code, interaction.channel, interaction.boutique_id,
            str(interaction.amount), interaction.currency, interaction.metadata) == (
        claire.pk, "product_view", "web", boutique.pk, "12.50", "EUR", {"sku": "BAG-1"})


def test_an_unknown_or_out_of_reach_client_is_an_invalid_item(claire):
    paris, lyon = BoutiqueFactory(code="PAR"), BoutiqueFactory(code="LYO")
    Customer.objects.filter(pk=claire.pk).update(home_boutique=paris)
    results = interactions_record_bulk(
        items=[visit(claire, "V-1"), {**visit(claire, "V-2"), "customer": "not-a-uuid"}],
        boutique_ids=[lyon.pk],
    )

    assert [result.errors for result in results] == [
        {"customer": [f"No client has the id {str(claire.public_id)!r}."]},
        {"customer": ["No client has the id 'not-a-uuid'."]},
    ]
    assert Interaction.objects.count() == 0


def test_a_client_named_by_identity_is_found_or_created_by_customer_upsert(claire):
    results = interactions_record_bulk(items=[
        {**visit(claire, "V-1"), "customer": None, "client": {"system": "crm", "external_id": "C-1"}},
        {**visit(claire, "V-2"), "customer": None, "client": {"system": "ecommerce", "external_id": "E-7",
                                                              "email": "Nina@Example.com"}},
        {**visit(claire, "V-3"), "customer": None, "client": {"system": "fax", "external_id": "1"}},
    ])

    assert [result.status for result in results] == ["created", "created", "invalid"]
    nina = Customer.objects.get(email="nina@example.com")
    assert CustomerIdentity.objects.filter(customer=nina, system="ecommerce", external_id="E-7").count() == 1
    assert Interaction.objects.get(external_id="V-1").customer_id == claire.pk
    assert Interaction.objects.get(external_id="V-2").customer_id == nina.pk


def test_the_number_of_queries_does_not_grow_with_the_batch(claire):
    def queries(count: int, prefix: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            interactions_record_bulk(items=[visit(claire, f"{prefix}{n}") for n in range(count)])
        return len(captured)

    assert queries(1, "a") == queries(200, "b")


def test_more_than_a_thousand_items_are_refused_whole(claire):
    with pytest.raises(ApplicationError):
        interactions_record_bulk(items=[visit(claire)] * 1001)
    assert Interaction.objects.count() == 0


# --- orders ----------------------------------------------------------------------------------------------------------


def test_orders_batch_reports_each_order_and_writes_the_valid_ones(claire):
    results = orders_record_bulk(items=[
        sale(claire, "O-1"),
        sale(claire, "O-1"),
        sale(claire, "O-1", status="fulfilled"),
        sale(claire, "O-2", total="10.00"),
        sale(claire, "O-3", lines=[{"sku": "X", "quantity": 0, "unit_price": "1"}]),
        {**sale(claire, "O-4"), "placed_at": "yesterday"},
    ])

    assert [result.status for result in results] == ["created", "unchanged", "updated", "invalid", "invalid",
                                                     "invalid"]
    assert results[3].errors == {"total": ["The lines add up to 2400.00, not 10.00."]}
    assert list(results[4].errors) == ["lines[1].quantity"]
    assert list(results[5].errors) == ["placed_at"]
    assert list(Order.objects.values_list("external_id", "status")) == [("O-1", "fulfilled")]
    claire.refresh_from_db()
    assert (claire.order_count, str(claire.lifetime_value)) == (1, "2400.00")
    assert Interaction.objects.filter(order__external_id="O-1", touchpoint_type__code="purchase").count() == 1


def test_values_no_column_can_hold_are_refused_per_item_never_failing_the_batch(claire):
    results = interactions_record_bulk(items=[
        visit(claire, "big", amount="1e20", currency="EUR"),
        visit(claire, "nul\x00"),
        visit(claire, "meta", metadata={"note": "a\x00b"}),
        visit(claire, "far", occurred_at="9999-12-31T23:59:59-12:00"),
        visit(claire, "shop", boutique="P\x00R"),
        visit(claire, "fine"),
    ])

    assert [next(iter(result.errors), None) for result in results] == [
        "amount", "external_id", "metadata", "occurred_at", "boutique", None]
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["fine"]


def test_an_offset_python_accepts_but_postgresql_does_not_is_recorded_in_utc(claire):
    [interaction] = interactions_record_bulk(items=[visit(claire, "far-east", occurred_at="2026-03-02T15:00:00+23:00")])
    [order] = orders_record_bulk(items=[sale(claire, "O-far", placed_at="2026-03-02T15:00:00+23:00")])

    assert Interaction.objects.get(pk=interaction.record_id).occurred_at == dt.datetime(2026, 3, 1, 16, tzinfo=dt.UTC)
    assert Order.objects.get(pk=order.record_id).placed_at == dt.datetime(2026, 3, 1, 16, tzinfo=dt.UTC)


def test_order_values_no_column_can_hold_are_refused_per_item(claire):
    results = orders_record_bulk(items=[
        sale(claire, "O-big", total="1e15", lines=[{"sku": "A", "quantity": 1, "unit_price": "1e15"}]),
        sale(claire, "O-many", total="0", lines=[{"sku": "A", "quantity": "99999999999", "unit_price": "0"}]),
        sale(claire, "O-nul", lines=[{"sku": "BAG-1", "quantity": 1, "unit_price": "2400.00", "category": "\x00"}]),
        sale(claire, "O-fine"),
    ])

    assert [next(iter(result.errors), None) for result in results] == [
        "total", "lines[1].quantity", "lines[1].category", None]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O-fine"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_batches_sharing_keys_record_each_interaction_once():
    import threading

    from django.db import connections

    claire = customer_upsert(source="crm", external_id="C-1", email="claire@example.com").customer
    barrier = threading.Barrier(3)
    outcomes: list[list[str]] = []

    def send(offset: int) -> None:
        try:
            barrier.wait()
            results = interactions_record_bulk(items=[visit(claire, f"V-{n}") for n in range(offset, offset + 300)])
            outcomes.append([result.status for result in results])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(offset,)) for offset in (0, 100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 3
    assert Interaction.objects.count() == 500
    assert sum(statuses.count("created") for statuses in outcomes) == 500
    assert {status for statuses in outcomes for status in statuses} <= {"created", "unchanged"}
