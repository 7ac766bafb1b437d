"""Calls refused for their credentials (none, or a wrong key) count against the per-address rate: past it, 429."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from integrations.throttling import AnonymousRateThrottle
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _three_a_minute(monkeypatch):
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anonymous": "3/min"})


def test_anonymous_calls_past_the_rate_are_answered_429():
    api = APIClient()

    responses = [api.get("/api/v1/customers/") for _ in range(4)]

    assert [response.status_code for response in responses] == [401, 401, 401, 429]
    assert responses[3].json() == {"message": "Request was throttled. Expected available in 60 seconds.", "extra": {}}
    assert responses[3]["Retry-After"] == "60"


def test_guessing_keys_is_counted_as_well():
    api = APIClient()

    statuses = [api.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Api-Key wrong.guess{n}").status_code
                for n in range(4)]

    assert statuses == [401, 401, 401, 429]


def test_a_valid_key_is_not_held_back_by_the_anonymous_calls_of_its_address():
    anonymous = APIClient()
    for _ in range(4):
        anonymous.get("/api/v1/customers/")
    client, _ = key_client(scopes=["customers:read"])

    assert client.get("/api/v1/customers/").status_code == 200


def test_behind_the_proxy_each_client_address_has_its_own_budget(settings):
    settings.BEHIND_TLS_PROXY = True
    api = APIClient(REMOTE_ADDR="10.0.0.2")

    first = [api.get("/api/v1/customers/", HTTP_X_FORWARDED_FOR="203.0.113.66").status_code for _ in range(4)]
    other = api.get("/api/v1/customers/", HTTP_X_FORWARDED_FOR="192.0.2.10").status_code

    assert first == [401, 401, 401, 429]
    assert other == 401
