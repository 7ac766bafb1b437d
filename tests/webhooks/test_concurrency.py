"""The same delivery arriving twice at once (a platform's retry racing the first attempt) is processed once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from customers.models import Customer
from tests.webhooks.conftest import encode, sample, shopify_post
from webhooks.models import WebhookDelivery


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_deliveries_of_one_event_process_it_once():
    body = encode(sample("customer.json"))
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def deliver() -> None:
        try:
            barrier.wait()
            outcomes.append(shopify_post(Client(), body, topic="customers/create", event_id="c-1").json()["outcome"])
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["duplicate", "duplicate", "processed"]
    assert Customer.objects.count() == 1
    processed = WebhookDelivery.objects.get(outcome="processed")
    assert set(WebhookDelivery.objects.filter(outcome="duplicate").values_list("original", flat=True)) == {
        processed.pk
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_one_body_sent_at_once_under_several_event_ids_and_topics_is_applied_once():
    body = encode(sample("customer.json"))
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def deliver(topic: str, event_id: str) -> None:
        try:
            barrier.wait()
            outcomes.append(shopify_post(Client(), body, topic=topic, event_id=event_id).json()["outcome"])
        finally:
            connection.close()

    sent = [("customers/create", "c-1"), ("customers/update", "c-2"), ("customers/update", "c-3")]
    threads = [threading.Thread(target=deliver, args=delivery) for delivery in sent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["duplicate", "duplicate", "processed"]
    assert Customer.objects.count() == 1
    processed = WebhookDelivery.objects.get(outcome="processed")
    assert set(WebhookDelivery.objects.filter(outcome="duplicate").values_list("original", flat=True)) == {
        processed.pk
    }
