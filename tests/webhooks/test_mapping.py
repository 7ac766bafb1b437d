"""The pure mapping from payloads to service arguments, on the edges the samples do not show."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.webhooks.conftest import sample
from webhooks import mapping


def test_a_pos_order_sold_through_the_platform_is_a_boutique_sale():
    order = mapping.shopify_order({**sample("order.json"), "source_name": "pos"})

    assert order.channel == "boutique"


def test_discounts_allocated_to_a_line_lower_its_paid_unit_price():
    line = {**sample("order.json")["line_items"][0], "quantity": 2,
            "discount_allocations": [{"amount": "20.00"}, {"amount": "5.00"}]}

    order = mapping.shopify_order({**sample("order.json"), "line_items": [line]})

    assert [(item.quantity, item.unit_price) for item in order.lines] == [(2, Decimal("186.50"))]
    assert order.total == Decimal("373.00")


def test_a_line_without_a_sku_is_known_by_its_variant():
    line = {**sample("order.json")["line_items"][0], "sku": None}

    order = mapping.shopify_order({**sample("order.json"), "line_items": [line]})

    assert order.lines[0].sku == "variant-39072856"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "placed"),
        ({"fulfillment_status": "fulfilled"}, "fulfilled"),
        ({"financial_status": "refunded"}, "returned"),
        ({"financial_status": "voided"}, "cancelled"),
        ({"cancelled_at": "2008-01-11T09:00:00-05:00", "fulfillment_status": "fulfilled"}, "cancelled"),
    ],
)
def test_shopify_order_status(changes, status):
    assert mapping.shopify_order_status({**sample("order.json"), **changes}) == status


def test_an_order_without_an_id_or_a_time_is_refused_naming_the_field():
    with pytest.raises(mapping.MappingError) as missing_id:
        mapping.shopify_order({**sample("order.json"), "id": None})
    with pytest.raises(mapping.MappingError) as bad_time:
        mapping.shopify_order({**sample("order.json"), "created_at": "yesterday"})

    assert missing_id.value.fields == {"id": ["The body has no 'id'."]}
    assert bad_time.value.fields == {"created_at": ["'yesterday' is not a time."]}


def test_a_pending_double_opt_in_records_no_consent_yet():
    customer = {**sample("customer.json"), "email_marketing_consent": {"state": "pending"},
                "sms_marketing_consent": {"state": "subscribed", "consent_updated_at": "2020-01-01T00:00:00Z"}}

    consents = mapping.shopify_consents(customer)

    assert [(consent.channel, consent.is_granted) for consent in consents] == [("sms", True)]
