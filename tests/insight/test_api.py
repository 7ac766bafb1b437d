"""GET /api/v1/insight/journeys/{id}/funnel/ and /api/v1/insight/kpis/: the figures within the caller's scope,
behind insight:read, with the period checked."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from insight.services import rollups_rebuild
from integrations.models import ApiKey
from tests.insight.conftest import PERIOD, populate

pytestmark = pytest.mark.django_db


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def key(scopes, boutiques=()) -> APIClient:
    api_key, secret = ApiKey.objects.create_key(name="figures", scopes=scopes)
    api_key.boutiques.set(boutiques)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def funnel(client, house, **query):
    return client.get(f"/api/v1/insight/journeys/{house.journey.pk}/funnel/", {**PERIOD, **query})


@pytest.mark.parametrize(("who", "entered", "moved_on", "dropped", "revenue", "orders"), [
    ("head_office", 4, 3, 1, "4460.00", 4),
    ("manager_a", 3, 2, 1, "4400.00", 3),
    ("advisor_a", 2, 1, 1, "4000.00", 2),
])
def test_each_role_sees_the_figures_of_its_scope(house, who, entered, moved_on, dropped, revenue, orders):
    client = session(getattr(house, who))

    first = funnel(client, house).json()["stages"][0]
    kpis = client.get("/api/v1/insight/kpis/", PERIOD).json()

    assert (first["stage"], first["entered"], first["moved_on"], first["dropped"]) == (
        house.stages[0].pk, entered, moved_on, dropped)
    assert first["median_days_in_stage"] == 3.0
    assert (kpis["revenue"], kpis["orders"], kpis["new_clients"], kpis["currency"]) == (revenue, orders, orders, "EUR")


def test_the_funnel_answers_one_entry_per_stage_in_order(house):
    body = funnel(session(house.head_office), house).json()

    assert [stage["stage"] for stage in body["stages"]] == [stage.pk for stage in house.stages]
    assert set(body["stages"][0]) >= {"stage", "name", "entered", "moved_on", "dropped", "median_days_in_stage"}
    assert body["stages"][0]["moves"] == [{"to_stage": house.stages[1].pk, "clients": 3}]
    assert body["overall_conversion"] == 0.0


def test_a_key_sees_its_boutiques_clients_and_needs_insight_read(house):
    london = house.clients["l1"].home_boutique

    limited = key(["insight:read"], [london])
    refused = key(["journeys:read", "customers:read"])

    assert funnel(limited, house).json()["stages"][0]["entered"] == 1
    assert limited.get("/api/v1/insight/kpis/", PERIOD).json()["revenue"] == "60.00"
    response = funnel(refused, house)
    assert response.status_code == 403
    assert response.json()["message"] == "This API key lacks the scope insight:read."
    assert APIClient().get("/api/v1/insight/kpis/", PERIOD).status_code == 401


def test_kpis_of_one_home_boutique(house):
    london = house.clients["l1"].home_boutique

    body = session(house.head_office).get("/api/v1/insight/kpis/", {**PERIOD, "boutique_id": london.pk}).json()

    assert (body["revenue"], body["orders"], body["average_order_value"]) == ("60.00", 1, "60.00")
    assert body["new_clients"] == 1


@pytest.mark.parametrize(("query", "field"), [
    ({"since": "2026-03-01", "until": "2026-01-01"}, "until"),
    ({"since": "2026-13-01", "until": "2026-01-01"}, "since"),
    ({"until": "2026-01-01"}, "since"),
    ({"since": "2020-01-01", "until": "2026-01-01"}, "until"),
])
def test_a_period_that_is_no_period_is_a_400_naming_the_field(house, query, field):
    response = session(house.head_office).get(f"/api/v1/insight/journeys/{house.journey.pk}/funnel/", query)

    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_a_parameter_given_twice_is_a_400(house):
    response = session(house.head_office).get("/api/v1/insight/kpis/?since=2026-01-01&since=2026-02-01"
                                              "&until=2026-03-31")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"]["since"] == ["Give this parameter once."]


def test_an_unknown_journey_is_a_404(house):
    assert session(house.head_office).get("/api/v1/insight/journeys/999999/funnel/", PERIOD).status_code == 404


def test_the_funnel_reads_a_constant_number_of_queries(house):
    client = session(house.head_office)
    funnel(client, house)
    with CaptureQueriesContext(connection) as few:
        funnel(client, house)
    populate(house, house.clients["a1"].home_boutique, house.advisor_a.advisor, ["x1", "x2", "x3"], "10.00")
    rollups_rebuild()
    with CaptureQueriesContext(connection) as more:
        body = funnel(client, house).json()

    assert body["stages"][0]["entered"] == 7
    assert len(more) == len(few)
