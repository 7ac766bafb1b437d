"""WooCommerce's webhook bodies (the REST API v3 objects) through /webhooks/woocommerce/, signed the same way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Customer
from tests.webhooks.conftest import encode, sample, woocommerce_post
from touchpoints.models import Order
from webhooks.models import WebhookDelivery
from webhooks.signatures import body_signature

pytestmark = pytest.mark.django_db


def test_a_guest_order_is_recorded_for_the_client_found_by_email(client):
    response = woocommerce_post(client, encode(sample("orders__01_create_an_order.json")), topic="order.created",
                                delivery_id="w-1")

    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    order = Order.objects.get()
    assert (order.source, order.external_id, order.status, order.channel) == ("ecommerce", "727", "placed", "web")
    assert order.placed_at == dt.datetime(2017, 3, 22, 19, 28, 2, tzinfo=dt.UTC)
    lines = order.lines.order_by("line_number").values_list("sku", "product_name", "quantity", "unit_price")
    assert list(lines) == [
        # A line without a SKU is known by its product id.
        ("product-93", "Woo Single #1", 2, Decimal("3.00")),
        ("Bar3", "Ship Your Idea – Color: Black, Size: M Test", 1, Decimal("12.00")),
    ]
    assert (order.currency, order.total, order.total_house) == ("USD", Decimal("18.00"), Decimal("16.56"))
    customer = order.customer
    assert (customer.email, customer.first_name, customer.city, customer.country) == (
        "john.doe@example.com", "John", "San Francisco", "US")
    # customer_id 0 is a guest: no ecommerce identity.
    assert customer.identities.count() == 0
    assert WebhookDelivery.objects.get().shop == "https://shop.example.com/"


def test_a_completed_order_update_fulfils_the_same_order(client):
    body = sample("orders__01_create_an_order.json")
    woocommerce_post(client, encode(body), topic="order.created", delivery_id="w-1")

    woocommerce_post(client, encode({**body, "status": "completed"}), topic="order.updated", delivery_id="w-2")

    assert list(Order.objects.values_list("external_id", "status")) == [("727", "fulfilled")]


def test_customer_created_then_updated_is_one_client_with_its_identity(client):
    woocommerce_post(client, encode(sample("customers__01_create_a_customer.json")), topic="customer.created",
                     delivery_id="w-1")

    response = woocommerce_post(client, encode(sample("customers__04_update_a_customer.json")),
                                topic="customer.updated", delivery_id="w-2")

    assert response.json()["outcome"] == "processed"
    customer = Customer.objects.get()
    assert (customer.email, customer.first_name, customer.last_name) == ("john.doe@example.com", "James", "Doe")
    assert list(customer.identities.values_list("system", "external_id")) == [("ecommerce", "25")]


def test_the_guest_order_and_the_later_account_are_the_same_client(client):
    woocommerce_post(client, encode(sample("orders__01_create_an_order.json")), topic="order.created",
                     delivery_id="w-1")

    woocommerce_post(client, encode(sample("customers__01_create_a_customer.json")), topic="customer.created",
                     delivery_id="w-2")

    customer = Customer.objects.get()
    assert customer.orders.count() == 1
    assert list(customer.identities.values_list("external_id", flat=True)) == ["25"]


def test_a_woocommerce_topic_atelier_does_not_handle_is_ignored(client):
    response = woocommerce_post(client, encode({"id": 5}), topic="product.created", delivery_id="w-1")

    assert response.json()["outcome"] == "ignored"


def test_a_delivery_signed_with_the_shopify_secret_is_refused(client):
    body = encode(sample("customers__01_create_a_customer.json"))

    response = client.post(
        "/webhooks/woocommerce/", data=body, content_type="application/json",
        headers={"X-WC-Webhook-Topic": "customer.created", "X-WC-Webhook-Delivery-ID": "w-1",
                 "X-WC-Webhook-Signature": body_signature(body, "shopify-test-secret")},
    )

    assert response.status_code == 401
    assert Customer.objects.count() == 0


def test_the_unsigned_ping_on_saving_a_webhook_is_answered_and_not_recorded(client):
    response = client.post("/webhooks/woocommerce/", data=b"webhook_id=12",
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert WebhookDelivery.objects.count() == 0


def test_a_refunded_order_is_returned_and_leaves_the_clients_value(client):
    body = sample("orders__01_create_an_order.json")
    woocommerce_post(client, encode(body), topic="order.created", delivery_id="w-1")

    woocommerce_post(client, encode({**body, "status": "refunded"}), topic="order.updated", delivery_id="w-2")

    order = Order.objects.get()
    assert order.status == "returned"
    assert order.customer.order_count == 0
    assert list(order.customer.interactions.order_by("pk").values_list("touchpoint_type__code", flat=True)) == [
        "purchase", "return"]
