"""A small house for the insight pages and API: two boutiques, an advisor's book, a colleague's, a manager, head
office; every client walked through a journey and buying once, the rollups rebuilt."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from customers.models import Advisor, Customer
from insight.services import rollups_rebuild
from journeys.models import Journey, Stage
from tests.factories import BoutiqueFactory, make_staff
from tests.insight.helpers import START, buy, make_client, make_journey, walk

PERIOD = {"since": "2026-01-01", "until": "2026-03-31"}


@dataclass
class House:
    journey: Journey
    stages: list[Stage]
    head_office: object
    manager_a: object
    advisor_a: object
    colleague_a: object
    clients: dict[str, Customer]


def populate(house: House, boutique, advisor, names: list[str], amount: str) -> None:
    for index, name in enumerate(names):
        client = make_client(boutique, advisor)
        house.clients[name] = client
        # Every other client moves on within the first stage's 10 days; the others drop.
        walk(client, house.journey, house.stages, [3] if index % 2 == 0 else [], start=START + dt.timedelta(days=index))
        buy(client, START + dt.timedelta(days=index), amount)


@pytest.fixture
def house(db) -> House:
    paris, london = BoutiqueFactory(code="PAR", name="Paris"), BoutiqueFactory(code="LON", name="London")
    journey, stages = make_journey(targets=(10, 20, None))
    advisor_a = make_staff(Advisor.Role.ADVISOR, paris, username="advisor-paris")
    colleague_a = make_staff(Advisor.Role.ADVISOR, paris, username="colleague-paris")
    house = House(journey=journey, stages=stages, head_office=make_staff(Advisor.Role.HEAD_OFFICE),
                  manager_a=make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager-paris"),
                  advisor_a=advisor_a, colleague_a=colleague_a, clients={})
    populate(house, paris, advisor_a.advisor, ["a1", "a2"], "1000.00")
    populate(house, paris, colleague_a.advisor, ["c1"], "200.00")
    populate(house, london, None, ["l1"], "30.00")
    rollups_rebuild()
    return house
