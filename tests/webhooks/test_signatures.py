"""The signature check: the shared vector, and every way a delivery can fail it (401, nothing processed, logged)."""

from __future__ import annotations

import json

import pytest

from customers.models import Customer
from tests.webhooks.conftest import SAMPLES, shopify_post
from webhooks.models import WebhookDelivery
from webhooks.signatures import body_signature, signature_is_valid

VECTOR = json.loads((SAMPLES / "shopify_style_hmac_vector.json").read_text())
BODY = VECTOR["request_body"].encode("utf-8")


def test_the_shared_vector_signs_its_body():
    assert body_signature(BODY, VECTOR["secret"]) == VECTOR["expected_header"]
    assert signature_is_valid(BODY, VECTOR["secret"], VECTOR["expected_header"])


@pytest.mark.parametrize(
    ("body", "secret", "header"),
    [
        pytest.param(BODY.replace(b"123.45", b"123.46"), VECTOR["secret"], VECTOR["expected_header"], id="tampered"),
        pytest.param(BODY, "another-secret", VECTOR["expected_header"], id="wrong-secret"),
        pytest.param(BODY, VECTOR["secret"], None, id="missing"),
        pytest.param(BODY, VECTOR["secret"], "", id="blank"),
        pytest.param(BODY, "", VECTOR["expected_header"], id="no-secret"),
        pytest.param(BODY, VECTOR["secret"], "not base64 at all é", id="garbage"),
    ],
)
def test_a_signature_that_does_not_sign_the_body_is_invalid(body, secret, header):
    assert not signature_is_valid(body, secret, header)


@pytest.mark.django_db
def test_the_vector_posted_with_its_signature_is_processed(client, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = VECTOR["secret"]

    response = shopify_post(client, BODY, topic="customers/create", event_id="vector-1",
                            signature=VECTOR["expected_header"])

    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    customer = Customer.objects.get()
    assert customer.email == "customer@example.com"
    assert list(customer.identities.values_list("system", "external_id")) == [("ecommerce", "1234567890")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "signature"),
    [
        pytest.param(BODY.replace(b"customer@", b"attacker@"), VECTOR["expected_header"], id="tampered-body"),
        pytest.param(BODY, body_signature(BODY, "another-secret"), id="wrong-secret"),
        pytest.param(BODY, "", id="missing-header"),
    ],
)
def test_a_bad_signature_is_refused_with_401_and_only_logged(client, settings, body, signature):
    settings.SHOPIFY_WEBHOOK_SECRET = VECTOR["secret"]

    response = shopify_post(client, body, topic="customers/create", event_id="vector-1", signature=signature)

    assert response.status_code == 401
    assert response.json() == {"message": "The signature is missing or invalid.", "extra": {}}
    assert Customer.objects.count() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code, delivery.body) == ("rejected", "bad_signature", "")
    assert (delivery.topic, delivery.event_id, delivery.attempts) == ("customers/create", "vector-1", 0)


@pytest.mark.django_db
def test_a_rejected_delivery_does_not_take_the_event_id_of_the_genuine_one(client, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = VECTOR["secret"]
    shopify_post(client, BODY, topic="customers/create", event_id="vector-1", signature="forged")

    response = shopify_post(client, BODY, topic="customers/create", event_id="vector-1",
                            signature=VECTOR["expected_header"])

    assert response.json()["outcome"] == "processed"
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_without_a_secret_every_delivery_is_refused(client, settings):
    settings.SHOPIFY_WEBHOOK_SECRET = ""

    response = shopify_post(client, BODY, topic="customers/create", event_id="vector-1", signature="")

    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert delivery.error_code == "not_configured"
    assert "SHOPIFY_WEBHOOK_SECRET" in delivery.error_message
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_only_post_is_accepted(client):
    assert client.get("/webhooks/shopify/").status_code == 405
    assert WebhookDelivery.objects.count() == 0
