"""The journey map page, /admin/insight/: the numbers in scope, each a link to exactly its clients, a CSV of what
the table shows, a constant number of queries."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from insight.services import rollups_rebuild
from tests.factories import UserFactory
from tests.insight.conftest import PERIOD, populate

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def journey_map(client, house, **query):
    return client.get("/admin/insight/", {"journey": house.journey.pk, **PERIOD, **query})


def link(response, stage, measure: str) -> str:
    match = re.search(rf'<a href="([^"]+)" data-measure="{measure}" data-stage="{stage.pk}">(\d+)</a>',
                      response.content.decode())
    assert match, f"no {measure} link for {stage}"
    return match[1].replace("&amp;", "&"), int(match[2])


def listed(client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return {customer.pk for customer in response.context["cl"].result_list}


@pytest.mark.parametrize(("who", "dropped_clients"), [
    ("head_office", {"a2"}), ("manager_a", {"a2"}), ("advisor_a", {"a2"}), ("colleague_a", set()),
])
def test_each_number_opens_the_client_list_on_exactly_its_clients(house, who, dropped_clients):
    client = logged_in(getattr(house, who))
    response = journey_map(client, house)
    assert response.status_code == 200

    url, count = link(response, house.stages[0], "dropped")
    entered_url, entered = link(response, house.stages[0], "entered")

    expected = {house.clients[name].pk for name in dropped_clients}
    assert (count, listed(client, url)) == (len(expected), expected)
    assert entered == len(listed(client, entered_url)) == {"head_office": 4, "manager_a": 3, "advisor_a": 2,
                                                          "colleague_a": 1}[who]


def test_the_csv_holds_what_the_table_shows(house):
    response = journey_map(logged_in(house.head_office), house, format="csv")

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert [(row["stage"], row["entered"], row["moved_on"], row["dropped"], row["in_stage"]) for row in rows] == [
        ("Stage 1", "4", "3", "1", "0"), ("Stage 2", "3", "0", "3", "0"), ("Stage 3", "0", "0", "0", "0"),
    ]
    assert rows[0]["median_days_in_stage"] == "3.0"


def test_the_page_draws_the_chart_from_our_own_static_files(house):
    page = journey_map(logged_in(house.head_office), house).content.decode()

    assert '<script src="/static/insight/vendor/echarts/echarts.min.js">' in page
    assert 'id="journey-map-data" type="application/json"' in page
    assert "http" not in re.sub(r'href="[^"]*"|https?://www\.w3\.org[^"]*', "", page.split("<body")[1]).lower()


def test_a_bad_period_is_a_400_page_saying_why(house):
    response = journey_map(logged_in(house.head_office), house, until="2025-01-01")

    assert response.status_code == 400
    assert "The period ends before it starts." in response.content.decode()


def test_staff_who_see_no_clients_may_not_open_it(house):
    assert logged_in(UserFactory(is_staff=True)).get("/admin/insight/").status_code == 403
    assert Client().get("/admin/insight/").status_code == 302  # to the login page


def test_the_page_reads_a_constant_number_of_queries(house):
    client = logged_in(house.manager_a)
    journey_map(client, house)
    with CaptureQueriesContext(connection) as few:
        journey_map(client, house)
    populate(house, house.clients["a1"].home_boutique, house.advisor_a.advisor, ["x1", "x2", "x3", "x4"], "10.00")
    rollups_rebuild()
    with CaptureQueriesContext(connection) as more:
        response = journey_map(client, house)

    assert link(response, house.stages[0], "entered")[1] == 7
    assert len(more) == len(few)
