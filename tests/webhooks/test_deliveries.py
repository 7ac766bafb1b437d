"""The delivery log: duplicates, unknown topics, malformed bodies, recorded failures and their replay from the admin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from customers.models import Advisor, Customer
from tests.desk.helpers import logged_in, messages_of
from tests.factories import BoutiqueFactory, make_staff
from tests.webhooks.conftest import SHOPIFY_SECRET, encode, sample, shopify_post
from touchpoints.models import Interaction, Order
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_replay
from webhooks.signatures import body_signature

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/webhooks/webhookdelivery/"


def test_a_duplicate_event_id_is_acknowledged_and_does_nothing(client):
    body = encode(sample("order.json"))
    shopify_post(client, body, topic="orders/create", event_id="o-1")
    Order.objects.update(status="fulfilled")  # were the duplicate processed, it would set the status back

    response = shopify_post(client, body, topic="orders/create", event_id="o-1")

    assert response.status_code == 200
    assert response.json()["outcome"] == "duplicate"
    assert Order.objects.get().status == "fulfilled"
    assert Interaction.objects.count() == 1
    first, duplicate = WebhookDelivery.objects.order_by("pk")
    assert (first.outcome, first.attempts) == ("processed", 1)
    assert (duplicate.outcome, duplicate.original, duplicate.attempts) == ("duplicate", first, 0)


def test_without_an_event_id_the_same_body_twice_is_a_duplicate(client):
    body = encode(sample("customer.json"))
    shopify_post(client, body, topic="customers/create", event_id="")

    response = shopify_post(client, body, topic="customers/create", event_id="")

    assert response.json()["outcome"] == "duplicate"
    assert WebhookDelivery.objects.filter(outcome="processed").get().event_id.startswith("sha256:")


def test_an_unknown_topic_is_acknowledged_and_logged_as_ignored(client):
    response = shopify_post(client, encode({"id": 1, "name": "Summer"}), topic="collections/create", event_id="x-1")

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_message) == ("ignored", "")
    assert delivery.result == "Topic 'collections/create' is not handled."
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [b'{"id": 450789469, "line_items": [', b"[1, 2]", b"\xff\xfe not text"],
    ids=["truncated", "array", "not-utf8"],
)
def test_a_body_that_is_not_a_json_object_is_a_clear_400_and_recorded(client, body):
    response = shopify_post(client, body, topic="orders/create", event_id="m-1")

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert response.json() == {"message": "The body is not a JSON object.", "extra": {"delivery": delivery.pk}}
    assert (delivery.outcome, delivery.error_code, delivery.attempts) == ("failed", "malformed", 1)
    assert Order.objects.count() == 0


def test_a_nul_byte_which_postgresql_cannot_store_is_replaced_not_a_500(client):
    response = shopify_post(client, b'{"id": "\x00"}', topic="orders/create", event_id="n-1")

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.body) == ("failed", '{"id": "\ufffd"}')


def test_a_payload_with_no_email_no_phone_and_no_customer_id_is_a_recorded_failure(client):
    anonymous = {**sample("order.json"), "email": None, "customer": None, "billing_address": None,
                 "shipping_address": None}

    response = shopify_post(client, encode(anonymous), topic="orders/create", event_id="o-1")

    assert response.status_code == 200
    assert response.json()["outcome"] == "failed"
    delivery = WebhookDelivery.objects.get()
    assert delivery.error_code == "invalid"
    assert delivery.error_message == (
        "A client needs at least an identity, an email or a phone number to be found again."
    )
    assert (Customer.objects.count(), Order.objects.count()) == (0, 0)


def test_a_failure_rolls_back_the_client_it_had_created_but_keeps_the_delivery(client):
    # The client is found, then the order is refused (no exchange rate): nothing of the delivery stays.
    unknown_currency = {**sample("order.json"), "currency": "CAD"}

    response = shopify_post(client, encode(unknown_currency), topic="orders/create", event_id="o-1")

    assert response.json()["outcome"] == "failed"
    delivery = WebhookDelivery.objects.get()
    assert delivery.error_message.startswith("No exchange rate for 'CAD'")
    assert (Customer.objects.count(), Order.objects.count()) == (0, 0)


@pytest.fixture
def failed_cad_order(client) -> WebhookDelivery:
    shopify_post(client, encode({**sample("order.json"), "currency": "CAD"}), topic="orders/create", event_id="o-1")
    return WebhookDelivery.objects.get(outcome="failed")


def test_head_office_replays_a_failed_delivery_from_the_admin_once_the_cause_is_fixed(failed_cad_order, settings):
    settings.CURRENCY_RATES = {**settings.CURRENCY_RATES, "CAD": Decimal("0.68")}
    head_office = make_staff(Advisor.Role.HEAD_OFFICE)
    browser = logged_in(head_office)

    response = browser.post(
        CHANGELIST, {"action": "replay", "_selected_action": [failed_cad_order.pk]}, follow=True
    )

    assert messages_of(response) == ["Replayed: 1 processed."]
    failed_cad_order.refresh_from_db()
    assert (failed_cad_order.outcome, failed_cad_order.attempts, failed_cad_order.error_message) == (
        "processed", 2, "")
    assert failed_cad_order.replayed_by == head_office
    order = Order.objects.get()
    assert (order.currency, order.total, order.total_house) == ("CAD", Decimal("597.00"), Decimal("405.96"))


def test_a_replay_that_fails_again_stays_failed_and_counts_the_attempt(failed_cad_order):
    replayed = webhook_replay(delivery=failed_cad_order)

    assert (replayed.outcome, replayed.attempts) == ("failed", 2)
    assert Order.objects.count() == 0


def test_only_failed_deliveries_are_replayed(client):
    shopify_post(client, encode(sample("customer.json")), topic="customers/create", event_id="c-1")
    processed = WebhookDelivery.objects.get()
    browser = logged_in(make_staff(Advisor.Role.HEAD_OFFICE))

    response = browser.post(CHANGELIST, {"action": "replay", "_selected_action": [processed.pk]}, follow=True)

    assert messages_of(response) == ["1 delivery(ies) not replayed: only failed ones can be."]
    processed.refresh_from_db()
    assert processed.attempts == 1


def test_head_office_sees_the_log_and_the_payload_pretty_printed(failed_cad_order):
    browser = logged_in(make_staff(Advisor.Role.HEAD_OFFICE))

    listing = browser.get(CHANGELIST, {"outcome__exact": "failed"})
    detail = browser.get(f"{CHANGELIST}{failed_cad_order.pk}/change/")

    assert listing.status_code == 200
    assert "No exchange rate for &#x27;CAD&#x27;" in listing.content.decode()
    assert detail.status_code == 200
    page = detail.content.decode()
    assert '  &quot;currency&quot;: &quot;CAD&quot;,' in page
    assert 'name="_save"' not in page


def test_advisors_and_managers_cannot_see_the_log_or_replay(failed_cad_order):
    boutique = BoutiqueFactory()
    for role in (Advisor.Role.ADVISOR, Advisor.Role.BOUTIQUE_MANAGER):
        browser = logged_in(make_staff(role, boutique))
        assert browser.get(CHANGELIST).status_code == 403
        replay = {"action": "replay", "_selected_action": [failed_cad_order.pk]}
        assert browser.post(CHANGELIST, replay).status_code == 403
    failed_cad_order.refresh_from_db()
    assert failed_cad_order.attempts == 1


def test_the_event_id_header_stands_in_when_there_is_no_webhook_id(client):
    body = encode(sample("customer.json"))
    headers = {"X-Shopify-Topic": "customers/create", "X-Shopify-Event-Id": "e-1",
               "X-Shopify-Hmac-Sha256": body_signature(body, SHOPIFY_SECRET)}

    outcomes = [
        client.post("/webhooks/shopify/", data=body, content_type="application/json", headers=headers).json()["outcome"]
        for _ in range(2)
    ]

    assert outcomes == ["processed", "duplicate"]
    assert WebhookDelivery.objects.filter(outcome="processed").get().event_id == "e-1"


@pytest.mark.parametrize("order_id", [b"450789469.5", b'"450789469\\u0000"', b'"45\\t0789469"'])
def test_an_order_id_that_is_no_whole_number_nor_printable_text_is_refused_and_nothing_is_stored(client, order_id):
    # Read as a float, str() would make 450789469.5 an order id; NUL and tabs are no part of an id.
    body = encode(sample("order.json")).replace(b'"id": 450789469', b'"id": ' + order_id, 1)

    response = shopify_post(client, body, topic="orders/create", event_id="odd-1")

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code) == ("failed", "invalid")
    assert delivery.error_message.startswith("id: ")
    assert (Order.objects.count(), Customer.objects.count()) == (0, 0)


@pytest.mark.parametrize(("order_id", "reason"), [
    (b"NaN", "The body holds NaN, which JSON does not allow."),
    (b"Infinity", "The body holds Infinity, which JSON does not allow."),
    (b"-Infinity", "The body holds -Infinity, which JSON does not allow."),
    (b"1e400", "The body holds the number 1e400, which is out of range."),
])
def test_an_order_id_that_is_not_finite_is_a_malformed_body_and_nothing_is_stored(client, order_id, reason):
    # json.loads reads all four (1e400 as an infinity); str() would make them the order ids "nan" and "inf".
    body = encode(sample("order.json")).replace(b'"id": 450789469', b'"id": ' + order_id, 1)

    response = shopify_post(client, body, topic="orders/create", event_id="odd-1")

    delivery = WebhookDelivery.objects.get()
    assert response.status_code == 400
    assert response.json() == {"message": reason, "extra": {"delivery": delivery.pk}}
    assert (delivery.outcome, delivery.error_code) == ("failed", "malformed")
    assert (Order.objects.count(), Customer.objects.count()) == (0, 0)


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"id": 1, "note": "\\ud800"}', "The body holds a lone surrogate escape (such as \\ud800), which is no text."),
    (b'{"id": 1, "a": ' + b"[" * 1000 + b"]" * 1000 + b"}", "The body is nested deeper than 64 levels."),
    (b"[" * 100_000, "The body is nested deeper than 64 levels."),
], ids=["lone-surrogate", "deep", "deeper-than-python-goes"])
def test_a_body_the_house_cannot_store_is_a_400_and_recorded(client, body, reason):
    response = shopify_post(client, body, topic="orders/create", event_id="m-2")

    delivery = WebhookDelivery.objects.get()
    assert response.status_code == 400
    assert response.json() == {"message": reason, "extra": {"delivery": delivery.pk}}
    assert (delivery.outcome, delivery.error_code) == ("failed", "malformed")
    assert Order.objects.count() == 0
