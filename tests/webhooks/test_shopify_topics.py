"""Each Shopify topic with the real sample payloads: clients, orders (created, refunded, cancelled), abandoned carts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import ConsentEvent, Customer
from tests.webhooks.conftest import encode, sample, shopify_post
from touchpoints.models import Interaction, Order
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def identities(customer: Customer) -> list[tuple[str, str]]:
    return list(customer.identities.values_list("system", "external_id"))


def test_customer_created_from_the_real_payload_has_its_ecommerce_identity(client):
    response = shopify_post(client, encode(sample("customer.json")), topic="customers/create", event_id="c-1")

    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    customer = Customer.objects.get()
    assert (customer.email, customer.first_name, customer.last_name) == ("bob.norman@hostmail.com", "Bob", "Norman")
    assert (customer.city, customer.country) == ("Louisville", "US")
    # The sample's 555 number is not a real one: dropped, not a reason to lose the client.
    assert customer.phone == ""
    assert identities(customer) == [("ecommerce", "207119551")]
    # accepts_marketing false on a client who never consented changes nothing in the ledger.
    assert ConsentEvent.objects.count() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.attempts, delivery.shop) == ("processed", 1, "atelier-test.myshopify.com")
    assert delivery.processed_at is not None
    assert delivery.headers["x-shopify-topic"] == "customers/create"


def test_customer_update_changes_the_same_client_and_records_consent_changes(client):
    shopify_post(client, encode(sample("customer.json")), topic="customers/create", event_id="c-1")
    subscribed = {**sample("customer.json"), "first_name": "Robert", "accepts_marketing": True,
                  "accepts_marketing_updated_at": "2015-06-01T10:00:00-04:00"}

    shopify_post(client, encode(subscribed), topic="customers/update", event_id="c-2")

    customer = Customer.objects.get()
    assert customer.first_name == "Robert"
    assert customer.consent == {"email_marketing": True}
    event = ConsentEvent.objects.get()
    assert (event.channel, event.purpose, event.is_granted, event.source) == ("email", "marketing", True, "ecommerce")
    assert event.occurred_at == dt.datetime(2015, 6, 1, 14, 0, tzinfo=dt.UTC)

    unsubscribed = {**subscribed, "email_marketing_consent": {
        "state": "unsubscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2015-07-01T10:00:00-04:00"}}
    shopify_post(client, encode(unsubscribed), topic="customers/update", event_id="c-3")
    shopify_post(client, encode({**unsubscribed, "last_name": "Norman"}), topic="customers/update", event_id="c-4")

    customer.refresh_from_db()
    assert customer.consent == {"email_marketing": False}
    assert list(ConsentEvent.objects.order_by("occurred_at").values_list("is_granted", flat=True)) == [True, False]
    assert Customer.objects.count() == 1


def test_order_created_from_the_real_payload_is_recorded_with_its_lines_and_house_total(client):
    response = shopify_post(client, encode(sample("order.json")), topic="orders/create", event_id="o-1")

    assert response.json()["outcome"] == "processed"
    order = Order.objects.get()
    assert (order.source, order.external_id, order.status, order.channel) == (
        "ecommerce", "450789469", "placed", "web")
    assert order.placed_at == dt.datetime(2008, 1, 10, 16, 0, tzinfo=dt.UTC)
    assert list(order.lines.order_by("line_number").values_list("sku", "quantity", "unit_price", "is_return")) == [
        ("IPOD2008GREEN", 1, Decimal("199.00"), False),
        ("IPOD2008RED", 1, Decimal("199.00"), False),
        ("IPOD2008BLACK", 1, Decimal("199.00"), False),
    ]
    # Articles only (tax and shipping are not client value), converted at USD 0.92.
    assert (order.currency, order.total, order.total_house) == ("USD", Decimal("597.00"), Decimal("549.24"))
    customer = order.customer
    assert customer.email == "bob.norman@hostmail.com"
    assert identities(customer) == [("ecommerce", "207119551")]
    purchase = Interaction.objects.get()
    assert (purchase.customer, purchase.touchpoint_type.code, purchase.order) == (customer, "purchase", order)
    assert purchase.amount == Decimal("597.00")


def test_refunds_in_an_updated_order_become_return_lines(client):
    shopify_post(client, encode(sample("order.json")), topic="orders/create", event_id="o-1")
    refunded = {**sample("order.json"), "financial_status": "partially_refunded", "refunds": [sample("refund.json")]}

    shopify_post(client, encode(refunded), topic="orders/updated", event_id="o-2")

    order = Order.objects.get()
    returns = order.lines.filter(is_return=True).order_by("line_number")
    assert list(returns.values_list("sku", "quantity", "unit_price")) == [
        ("IPOD2008BLACK", -1, Decimal("199.00")),
        ("IPOD2008GREEN", -1, Decimal("199.00")),
    ]
    assert (order.status, order.total, order.lines.count()) == ("placed", Decimal("199.00"), 5)


def test_a_cancelled_order_update_cancels_the_same_order(client):
    shopify_post(client, encode(sample("order.json")), topic="orders/create", event_id="o-1")
    cancelled = {**sample("order.json"), "cancelled_at": "2008-01-11T09:00:00-05:00", "cancel_reason": "customer"}

    response = shopify_post(client, encode(cancelled), topic="orders/updated", event_id="o-2")

    assert response.json()["outcome"] == "processed"
    order = Order.objects.get()
    assert order.status == "cancelled"
    assert order.customer.order_count == 0
    assert Interaction.objects.count() == 1
    assert WebhookDelivery.objects.get(event_id="o-2").result.startswith("Order 450789469 updated (cancelled)")


def test_the_same_order_sent_again_under_another_event_id_changes_nothing(client):
    shopify_post(client, encode(sample("order.json")), topic="orders/create", event_id="o-1")

    shopify_post(client, encode(sample("order.json")), topic="orders/updated", event_id="o-2")

    assert Order.objects.count() == 1
    assert Interaction.objects.count() == 1
    # The same body (its id and updated_at) was applied already: a duplicate, whatever its topic (test_replays).
    assert WebhookDelivery.objects.get(event_id="o-2").outcome == "duplicate"


def test_abandoned_checkout_is_a_cart_abandoned_interaction_on_the_clients_timeline(client):
    response = shopify_post(client, encode(sample("abandoned_checkout.json")), topic="checkouts/create",
                            event_id="k-1")

    assert response.json()["outcome"] == "processed"
    cart = Interaction.objects.get()
    assert (cart.touchpoint_type.code, cart.source, cart.external_id, cart.channel) == (
        "cart_abandoned", "ecommerce", "checkout:2a1ace52255252df566af0faaedfbfa7", "web")
    assert (cart.amount, cart.currency) == (Decimal("398.00"), "USD")
    assert cart.occurred_at == dt.datetime(2012, 10, 12, 11, 5, 27, tzinfo=dt.UTC)
    assert cart.metadata["items"] == [{"sku": "IPOD2008RED", "quantity": 1}, {"sku": "IPOD2008PINK", "quantity": 1}]
    assert cart.metadata["recovery_url"].startswith("https://checkout.local/orders/690933842/")
    assert identities(cart.customer) == [("ecommerce", "207119551")]
    assert cart.customer.last_interaction_at == cart.occurred_at


def test_the_same_checkout_twice_is_one_interaction_and_a_guest_checkout_finds_the_client_by_email(client):
    shopify_post(client, encode(sample("abandoned_checkout.json")), topic="checkouts/create", event_id="k-1")

    # checkout.json is the same cart (same token) with no customer object: the email finds the client.
    response = shopify_post(client, encode(sample("checkout.json")), topic="checkouts/create", event_id="k-2")

    assert response.json()["outcome"] == "processed"
    assert Interaction.objects.count() == 1
    assert Customer.objects.count() == 1
    assert "already on the timeline" in WebhookDelivery.objects.get(event_id="k-2").result


def test_a_completed_checkout_is_not_an_abandoned_cart(client):
    completed = {**sample("checkout.json"), "completed_at": "2012-10-12T08:00:00-04:00"}

    response = shopify_post(client, encode(completed), topic="checkouts/create", event_id="k-1")

    assert response.json()["outcome"] == "ignored"
    assert Interaction.objects.count() == 0
    assert Customer.objects.count() == 0


def test_a_test_mode_order_is_acknowledged_but_not_a_sale(client):
    response = shopify_post(client, encode({**sample("order.json"), "test": True}), topic="orders/create",
                            event_id="o-1")

    assert response.json()["outcome"] == "ignored"
    assert WebhookDelivery.objects.get().result == "Order 450789469 is a test order."
    assert (Order.objects.count(), Customer.objects.count()) == (0, 0)


def test_an_older_version_of_an_order_arriving_late_is_ignored(client):
    cancelled = {**sample("order.json"), "cancelled_at": "2008-01-11T09:00:00-05:00",
                 "updated_at": "2008-01-11T09:00:00-05:00"}
    shopify_post(client, encode(cancelled), topic="orders/updated", event_id="o-2")

    # The creation (updated_at a day earlier) was delayed and arrives last.
    response = shopify_post(client, encode(sample("order.json")), topic="orders/create", event_id="o-1")

    assert response.json()["outcome"] == "ignored"
    assert Order.objects.get().status == "cancelled"
    late = WebhookDelivery.objects.get(event_id="o-1")
    assert late.result == "order:450789469: a newer version (2008-01-11T14:00:00+00:00) was already applied."
    assert late.subject_version == dt.datetime(2008, 1, 10, 16, 0, tzinfo=dt.UTC)


def test_an_older_version_of_a_customer_arriving_late_is_ignored(client):
    renamed = {**sample("customer.json"), "first_name": "Robert", "updated_at": "2015-06-01T10:00:00-04:00"}
    shopify_post(client, encode(renamed), topic="customers/update", event_id="c-2")

    response = shopify_post(client, encode(sample("customer.json")), topic="customers/create", event_id="c-1")

    assert response.json()["outcome"] == "ignored"
    assert Customer.objects.get().first_name == "Robert"
