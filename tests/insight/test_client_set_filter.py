"""The client list's client_set filter (customers.filters): the clients behind a figure, exactly, within the
caller's scope; a malformed set is a 400 naming the filter, and no client is listed."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from customers.filters import CustomerFilterSet
from customers.models import Customer
from insight.selectors.client_sets import stage_set_value
from insight.selectors.scope import Slices
from tests.insight.conftest import PERIOD

pytestmark = pytest.mark.django_db
SLICES = Slices(since=dt.date.fromisoformat(PERIOD["since"]),
                until=dt.date.fromisoformat(PERIOD["until"]))


class Request:
    def __init__(self, user) -> None:
        self.user = user


def filtered(house, user, value: str) -> set[str]:
    names = {client.pk: name for name, client in house.clients.items()}
    filterset = CustomerFilterSet({"client_set": value}, queryset=Customer.objects.visible_to(user),
                                  request=Request(user))
    assert filterset.is_valid(), filterset.errors
    return {names[pk] for pk in filterset.qs.values_list("pk", flat=True)}


def test_the_filter_lists_exactly_the_clients_behind_each_number(house):
    stage = house.stages[0].pk

    def value(measure: str, **slices) -> str:
        return stage_set_value(stage_id=stage, measure=measure, slices=Slices(SLICES.since, SLICES.until, **slices))

    assert filtered(house, house.head_office, value("entered")) == {"a1", "a2", "c1", "l1"}
    assert filtered(house, house.head_office, value("moved_on")) == {"a1", "c1", "l1"}
    assert filtered(house, house.head_office, value("dropped")) == {"a2"}
    assert filtered(house, house.head_office, value("in_stage")) == set()
    assert filtered(house, house.head_office, value("entered", boutique_id=house.clients["l1"].home_boutique_id)) \
        == {"l1"}
    assert filtered(house, house.manager_a, value("entered")) == {"a1", "a2", "c1"}
    assert filtered(house, house.advisor_a, value("entered")) == {"a1", "a2"}


@pytest.mark.parametrize("value", [
    "nothing:1", "stage", "stage:x:entered:2026-01-01:2026-03-31", "stage:1:lost:2026-01-01:2026-03-31",
    "stage:1:entered:2026-03-31:2026-01-01", "stage:1:entered:2026-01-01:2026-31-03",
    "stage:1:entered:2026-01-01:2026-03-31:colour=red", "stage:1:entered:2026-01-01:2026-03-31:boutique=x",
])
def test_a_malformed_client_set_is_a_400_naming_the_filter(house, value):
    client = APIClient()
    client.force_login(house.head_office)

    response = client.get("/api/v1/customers/", {"client_set": value})

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["client_set"]


def test_the_api_lists_the_same_clients_as_the_page(house):
    client = APIClient()
    client.force_login(house.manager_a)
    value = stage_set_value(stage_id=house.stages[0].pk, measure="dropped", slices=SLICES)

    body = client.get("/api/v1/customers/", {"client_set": value}).json()

    assert [row["id"] for row in body["results"]] == [str(house.clients["a2"].public_id)]
