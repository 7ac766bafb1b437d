"""Replays: the topic and event id headers are not signed, so a captured body can be sent again under a new event
id or another topic. A body is applied once, known by its own id and updated_at and its SHA-256, whatever the
headers say: a replay is recorded as a duplicate of the delivery that applied it, and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Customer
from tests.webhooks.conftest import encode, sample, shopify_post, woocommerce_post
from touchpoints.models import Interaction, Order
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_replay

pytestmark = pytest.mark.django_db


def test_an_order_body_sent_again_under_a_new_event_id_is_a_duplicate_and_changes_nothing(client):
    body = encode(sample("order.json"))
    shopify_post(client, body, topic="orders/create", event_id="o-1")
    Order.objects.update(status="fulfilled")  # were the replay applied, it would set the status back

    response = shopify_post(client, body, topic="orders/updated", event_id="o-forged")

    assert response.status_code == 200
    assert response.json()["outcome"] == "duplicate"
    assert Order.objects.get().status == "fulfilled"
    first, replay = WebhookDelivery.objects.order_by("pk")
    assert (replay.outcome, replay.original, replay.subject) == ("duplicate", first, "")
    assert replay.result == (
        f"The same body (id 450789469, updated 2008-01-10T11:00:00-05:00) was applied by delivery {first.pk}."
    )


def test_a_customer_body_sent_again_does_not_undo_what_staff_changed_since(client):
    body = encode(sample("customer.json"))
    shopify_post(client, body, topic="customers/create", event_id="c-1")
    Customer.objects.update(first_name="Robert")

    response = shopify_post(client, body, topic="customers/update", event_id="c-forged")

    assert response.json()["outcome"] == "duplicate"
    assert Customer.objects.get().first_name == "Robert"


def test_an_order_body_sent_as_a_customer_update_creates_or_renames_no_client(client):
    body = encode(sample("order.json"))
    shopify_post(client, body, topic="orders/create", event_id="o-1")
    before = list(Customer.objects.values_list("pk", "first_name", "last_name", "email"))

    response = shopify_post(client, body, topic="customers/update", event_id="c-forged")

    assert response.json()["outcome"] == "duplicate"
    assert list(Customer.objects.values_list("pk", "first_name", "last_name", "email")) == before


def test_a_checkout_body_sent_as_an_order_records_no_order(client):
    body = encode(sample("abandoned_checkout.json"))
    shopify_post(client, body, topic="checkouts/create", event_id="k-1")

    response = shopify_post(client, body, topic="orders/create", event_id="o-forged")

    assert response.json()["outcome"] == "duplicate"
    assert Order.objects.count() == 0
    assert Interaction.objects.count() == 1


def test_a_woocommerce_order_sent_again_under_a_new_delivery_id_is_a_duplicate(client):
    body = encode(sample("orders__01_create_an_order.json"))
    woocommerce_post(client, body, topic="order.created", delivery_id="w-1")

    response = woocommerce_post(client, body, topic="order.updated", delivery_id="w-forged")

    assert response.json()["outcome"] == "duplicate"
    assert WebhookDelivery.objects.get(event_id="w-forged").result.startswith("The same body (id 727, updated ")


def test_a_body_without_an_id_sent_again_is_known_by_its_hash(client):
    body = encode({"name": "Summer", "updated_at": "2026-05-01T10:00:00Z"})
    shopify_post(client, body, topic="customers/create", event_id="n-1")  # fails: no identity
    shopify_post(client, encode(sample("customer.json")), topic="customers/create", event_id="c-1")

    response = shopify_post(client, encode(sample("customer.json")), topic="customers/update", event_id="c-2")

    assert response.json()["outcome"] == "duplicate"
    assert WebhookDelivery.objects.get(event_id="n-1").body_key.startswith("sha256:")


def test_two_changes_of_one_order_within_the_same_second_are_both_applied(client):
    # updated_at has whole seconds: the same id and updated_at with another body is a change, not a replay.
    shopify_post(client, encode(sample("order.json")), topic="orders/create", event_id="o-1")
    cancelled = {**sample("order.json"), "cancelled_at": "2008-01-10T11:00:00-05:00", "cancel_reason": "customer"}

    response = shopify_post(client, encode(cancelled), topic="orders/updated", event_id="o-2")

    assert response.json()["outcome"] == "processed"
    assert Order.objects.get().status == "cancelled"


def test_a_topic_atelier_ignores_does_not_hold_the_body_for_the_topic_it_handles(client):
    # A platform sends one order version under several topics (orders/paid, orders/updated) in any order.
    body = encode(sample("order.json"))
    shopify_post(client, body, topic="orders/paid", event_id="o-paid")

    response = shopify_post(client, body, topic="orders/updated", event_id="o-updated")

    assert response.json()["outcome"] == "processed"
    assert Order.objects.count() == 1


def test_a_failed_delivery_whose_body_was_applied_since_is_a_duplicate_when_replayed(client, settings):
    cad = encode({**sample("order.json"), "currency": "CAD"})
    shopify_post(client, cad, topic="orders/create", event_id="o-1")
    failed = WebhookDelivery.objects.get(outcome="failed")
    settings.CURRENCY_RATES = {**settings.CURRENCY_RATES, "CAD": Decimal("0.68")}
    shopify_post(client, cad, topic="orders/updated", event_id="o-2")
    applied = WebhookDelivery.objects.get(event_id="o-2")
    assert applied.outcome == "processed"

    replayed = webhook_replay(delivery=failed)

    assert (replayed.outcome, replayed.original, replayed.attempts) == ("duplicate", applied, 2)
    assert Order.objects.count() == 1
