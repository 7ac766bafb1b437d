"""What the delivery log may cost: only the headers that matter, capped; a rate per source address (counted in the
shared cache, failing open); and old deliveries purged on a schedule, the newest applied version of each record
kept for as long as it is the newest."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings

from config.probes import choose_cache
from tests.webhooks.conftest import SHOPIFY_SECRET, encode, sample, shopify_post
from webhooks.models import WebhookDelivery
from webhooks.signatures import body_signature
from webhooks.tasks import webhook_deliveries_purge_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rates():
    # Rates count in the cache; each test starts with a full budget.
    cache.clear()
    yield
    cache.clear()


def test_a_rejected_delivery_keeps_only_the_headers_that_matter_each_capped(client):
    junk = {f"X-Shopify-Junk-{number}": "j" * 4_000 for number in range(100)}  # 400 KB of claimed headers
    body = encode(sample("order.json"))

    response = client.post(
        "/webhooks/shopify/", data=body, content_type="application/json",
        headers={
            **junk, "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w" * 10_000,
            "X-Shopify-Shop-Domain": "shop.example", "X-Shopify-Hmac-Sha256": "forged", "X-Other": "x",
        },
    )

    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.body) == ("rejected", "")
    assert delivery.headers == {
        "x-shopify-topic": "orders/create", "x-shopify-webhook-id": "w" * 255, "x-shopify-shop-domain": "shop.example",
        "x-shopify-hmac-sha256": "forged",
    }
    assert delivery.event_id == "w" * 255


def test_an_accepted_delivery_keeps_the_same_headers(client):
    body = encode(sample("customer.json"))
    shopify_post(client, body, topic="customers/create", event_id="c-1")

    assert WebhookDelivery.objects.get().headers == {
        "x-shopify-topic": "customers/create", "x-shopify-webhook-id": "c-1",
        "x-shopify-shop-domain": "atelier-test.myshopify.com", "x-shopify-api-version": "2025-01",
        "x-shopify-hmac-sha256": body_signature(body, SHOPIFY_SECRET),
    }


def test_deliveries_past_the_rate_from_one_address_get_429_and_are_not_recorded(client, settings):
    settings.WEBHOOK_RATE = "3/min"
    bodies = [encode({**sample("customer.json"), "id": number}) for number in range(5)]

    statuses = [
        shopify_post(client, body, topic="customers/create", event_id=f"c-{n}", REMOTE_ADDR="203.0.113.7").status_code
        for n, body in enumerate(bodies[:4])
    ]
    elsewhere = shopify_post(client, bodies[4], topic="customers/create", event_id="c-4", REMOTE_ADDR="198.51.100.2")
    refused = shopify_post(client, bodies[0], topic="customers/create", event_id="c-9", REMOTE_ADDR="203.0.113.7")

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too many deliveries from this address; retry later.", "extra": {}}
    assert int(refused["Retry-After"]) > 0
    assert elsewhere.status_code == 200
    assert WebhookDelivery.objects.count() == 4


def test_forged_deliveries_count_against_the_rate_too(client, settings):
    settings.WEBHOOK_RATE = "2/min"
    body = encode(sample("customer.json"))

    statuses = [
        shopify_post(client, body, topic="customers/create", event_id=f"f-{n}", signature="forged",
                     REMOTE_ADDR="203.0.113.7").status_code
        for n in range(4)
    ]

    assert statuses == [401, 401, 429, 429]
    assert WebhookDelivery.objects.filter(outcome="rejected").count() == 2


def test_a_sender_cannot_escape_the_rate_by_writing_its_own_forwarded_for_header(client, settings):
    settings.WEBHOOK_RATE = "2/min"
    body = encode(sample("customer.json"))

    statuses = [
        shopify_post(client, body, topic="customers/create", event_id=f"f-{n}", signature="forged",
                     REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code
        for n in range(3)
    ]

    assert statuses == [401, 401, 429]


def test_when_the_cache_does_not_answer_deliveries_go_through_and_the_outage_is_logged(client, caplog, settings):
    settings.WEBHOOK_RATE = "1/min"
    # Port 9 (discard) has no Redis: every cache call fails.
    with (
        override_settings(CACHES={"default": choose_cache("redis://127.0.0.1:9/1")}),
        caplog.at_level(logging.WARNING, logger="webhooks.throttling"),
    ):
        statuses = [
            shopify_post(client, encode({**sample("customer.json"), "id": n}), topic="customers/create",
                         event_id=f"c-{n}").status_code
            for n in range(2)
        ]

    assert statuses == [200, 200]
    assert "webhooks.throttle_cache_unavailable scope=webhook" in caplog.text


def _delivered(client, days_ago: int, **post) -> WebhookDelivery:
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC) - dt.timedelta(days=days_ago), tick=False):
        shopify_post(client, **post)
    return WebhookDelivery.objects.latest("pk")


def test_the_purge_deletes_old_deliveries_but_keeps_failures_and_the_newest_version_of_each_record(client, settings):
    settings.WEBHOOK_DELIVERIES_KEEP_DAYS = 30
    order = sample("order.json")
    older, newer = ({**order, "updated_at": f"2026-0{month}-01T10:00:00+00:00"} for month in (2, 3))
    old_version = _delivered(client, 60, body=encode(older), topic="orders/updated", event_id="o-1")
    newest_version = _delivered(client, 50, body=encode(newer), topic="orders/updated", event_id="o-2")
    duplicate = _delivered(client, 50, body=encode(newer), topic="orders/updated", event_id="o-2")
    ignored = _delivered(client, 45, body=encode({"id": 1}), topic="collections/create", event_id="x-1")
    rejected = _delivered(client, 40, body=b"{}", topic="orders/create", event_id="r-1", signature="forged")
    anonymous = {**order, "id": 7, "email": None, "customer": None, "billing_address": None, "shipping_address": None}
    failed = _delivered(client, 40, body=encode(anonymous), topic="orders/create", event_id="c-7")
    recent = _delivered(client, 2, body=encode({"id": 2}), topic="collections/create", event_id="x-2")
    assert (old_version.outcome, newest_version.outcome, duplicate.outcome, failed.outcome) == (
        "processed", "processed", "duplicate", "failed"
    )
    assert (ignored.outcome, rejected.outcome, recent.outcome) == ("ignored", "rejected", "ignored")

    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        deleted = webhook_deliveries_purge_task()

    assert deleted == 4
    assert set(WebhookDelivery.objects.values_list("event_id", "outcome")) == {
        ("o-2", "processed"), ("c-7", "failed"), ("x-2", "ignored"),
    }


def test_the_purge_runs_nightly_from_beat(settings):
    assert settings.CELERY_BEAT_SCHEDULE["purge-webhook-deliveries-nightly"] == {
        "task": "webhooks.tasks.webhook_deliveries_purge_task", "schedule": 24 * 60 * 60,
    }
