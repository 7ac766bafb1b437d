"""Fixtures of the API tests: staff of two boutiques, keys with and without scopes, clients in each boutique."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from customers.models import Advisor
from customers.services import customer_upsert
from integrations.models import ApiKey
from tests.factories import BoutiqueFactory, make_staff


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the cache; each test starts with a full budget.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def boutique_a(db):
    return BoutiqueFactory(code="PAR", name="Paris")


@pytest.fixture
def boutique_b(db):
    return BoutiqueFactory(code="LON", name="London", city="London", country="GB", timezone="Europe/London")


def make_client(boutique, email: str, **fields):
    """A client made through the real service, as every entry point makes them."""
    return customer_upsert(
        source="atelier", email=email, first_name="Ana", last_name=email.split("@")[0], home_boutique=boutique,
        **fields,
    ).customer


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def session_client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def key_client(*, scopes: list[str], boutiques=()) -> tuple[APIClient, ApiKey]:
    api_key, key = ApiKey.objects.create_key(name="shop", scopes=scopes)
    if boutiques:
        api_key.boutiques.set(boutiques)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client, api_key


@pytest.fixture
def advisor_a(boutique_a):
    return make_staff(Advisor.Role.ADVISOR, boutique_a)


@pytest.fixture
def head_office(db):
    return make_staff(Advisor.Role.HEAD_OFFICE)


@pytest.fixture
def client_a(boutique_a):
    """A client of boutique A, for the write endpoints' tests."""
    return make_client(boutique_a, "ana@example.com")


@pytest.fixture
def client_b(boutique_b):
    return make_client(boutique_b, "ben@example.com")
