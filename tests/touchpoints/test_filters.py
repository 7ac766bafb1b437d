"""Interaction and order filter sets: each filter, with an exact count."""

from __future__ import annotations

import pytest

from customers.services import customer_upsert
from tests.factories import BoutiqueFactory
from touchpoints.filters import InteractionFilterSet, OrderFilterSet
from touchpoints.models import Interaction, Order
from touchpoints.services.bulk import interactions_record_bulk, orders_record_bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def house():
    paris = BoutiqueFactory(code="PAR")
    ana = customer_upsert(source="crm", external_id="A", email="ana@example.com", home_boutique=paris).customer
    ben = customer_upsert(source="crm", external_id="B", email="ben@example.com").customer
    interactions_record_bulk(items=[
        {"customer": str(ana.public_id), "touchpoint_type": "store_visit", "source": "pos", "external_id": "V-1",
         "occurred_at": "2026-03-01T10:00:00Z", "boutique": "PAR"},
        {"customer": str(ana.public_id), "touchpoint_type": "product_view", "source": "ecommerce",
         "external_id": "W-1", "occurred_at": "2026-03-05T10:00:00Z"},
        {"customer": str(ben.public_id), "touchpoint_type": "email_opened", "source": "crm", "external_id": "E-1",
         "occurred_at": "2026-03-09T10:00:00Z"},
    ])
    line = [{"sku": "BAG-1", "quantity": 1, "unit_price": "100.00"}]
    orders_record_bulk(items=[
        {"customer": str(ana.public_id), "source": "pos", "external_id": "O-1", "placed_at": "2026-03-01T10:00:00Z",
         "currency": "EUR", "total": "100.00", "lines": line, "boutique": "PAR"},
        {"customer": str(ben.public_id), "source": "ecommerce", "external_id": "O-2", "channel": "web",
         "placed_at": "2026-03-07T10:00:00Z", "currency": "EUR", "total": "100.00", "lines": line,
         "status": "fulfilled"},
    ])
    return {"ana": ana, "ben": ben, "paris": paris}


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({}, 5),  # three touchpoints and the two orders' purchases
        ({"customer": "ana"}, 3),
        ({"touchpoint_type": "store_visit"}, 1),
        ({"channel": "web"}, 2),
        ({"boutique_id": "paris"}, 2),
        ({"source": "ecommerce"}, 2),
        ({"source": "pos", "external_id": "V-1"}, 1),
        ({"occurred_since": "2026-03-05T10:00:00Z"}, 3),
        ({"occurred_before": "2026-03-05T10:00:00Z"}, 2),
    ],
)
def test_interaction_filters(house, params, count):
    data = {name: str(house[value].public_id) if name == "customer" else house[value].pk if name == "boutique_id"
            else value for name, value in params.items()}

    filtered = InteractionFilterSet(data=data, queryset=Interaction.objects.all()).qs

    assert filtered.count() == count


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({}, 2),
        ({"customer": "ben"}, 1),
        ({"boutique_id": "paris"}, 1),
        ({"status": "fulfilled"}, 1),
        ({"channel": "web"}, 1),
        ({"source": "pos"}, 1),
        ({"external_id": "O-2"}, 1),
        ({"placed_since": "2026-03-02T00:00:00Z"}, 1),
        ({"updated_since": "2000-01-01T00:00:00Z"}, 2),
    ],
)
def test_order_filters(house, params, count):
    data = {name: str(house[value].public_id) if name == "customer" else house[value].pk if name == "boutique_id"
            else value for name, value in params.items()}

    filtered = OrderFilterSet(data=data, queryset=Order.objects.all()).qs

    assert filtered.count() == count
