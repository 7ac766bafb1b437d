"""Idempotency-Key on POSTs: a retry returns the first response and changes nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.models import IdempotentRequest
from customers.models import Persona
from tests.api.conftest import key_client

pytestmark = pytest.mark.urls("tests.api.urls")
URL = "/test/personas/"


@pytest.fixture
def shop(db):
    client, _ = key_client(scopes=["customers:write"])
    return client


def test_retried_post_returns_the_first_response_and_creates_nothing_more(shop):
    first = shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    retry = shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Persona.objects.filter(name="Collector").count() == 1
    assert IdempotentRequest.objects.get().response_status == 201


def test_same_key_with_another_body_is_422_and_nothing_runs(shop):
    shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    response = shop.post(URL, {"name": "Traveller"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert response.status_code == 422
    assert response.json() == {
        "message": "This Idempotency-Key was already used for a different request; send a new key with a new "
        "request.",
        "extra": {"idempotency_key": "order-1"},
    }
    assert not Persona.objects.filter(name="Traveller").exists()


def test_without_the_header_every_post_runs(shop):
    shop.post(URL, {"name": "Collector"}, format="json")
    shop.post(URL, {"name": "Traveller"}, format="json")

    assert Persona.objects.filter(name__in=["Collector", "Traveller"]).count() == 2
    assert not IdempotentRequest.objects.exists()


def test_a_refused_request_keeps_no_claim_so_the_fixed_retry_runs(shop):
    refused = shop.post(URL, {"name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    fixed = shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert refused.status_code == 400
    assert fixed.status_code == 201
    assert Persona.objects.filter(name="Collector").count() == 1


def test_keys_belong_to_their_caller(shop):
    other, _ = key_client(scopes=["customers:write"])

    shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    response = other.post(URL, {"name": "Traveller"}, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert IdempotentRequest.objects.values("principal").distinct().count() == 2


def test_too_long_a_key_is_400(shop):
    response = shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400
    assert not Persona.objects.filter(name="Collector").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_duplicates_run_once_and_all_get_the_first_response():
    client_and_key = key_client(scopes=["customers:write"])
    responses = []
    barrier = threading.Barrier(4)

    def post() -> None:
        try:
            client, _ = client_and_key
            barrier.wait()
            responses.append(client.post(URL, {"name": "Slow collector"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in responses] == [201] * 4
    assert len({response.content for response in responses}) == 1
    assert sum(response.get("Idempotent-Replayed") == "true" for response in responses) == 3
    assert Persona.objects.filter(name="Slow collector").count() == 1


def test_keys_older_than_the_retention_are_purged_and_run_again(shop):
    import datetime as dt

    from django.utils import timezone

    from core.tasks import idempotent_requests_purge_task

    shop.post(URL, {"name": "Collector"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    shop.post(URL, {"name": "Traveller"}, format="json", HTTP_IDEMPOTENCY_KEY="recent")
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(days=8))

    assert idempotent_requests_purge_task() == 1

    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["recent"]
