"""The figures on small hand-made cases whose answer is known (issue 15), read from the rollups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Advisor
from customers.services import customer_merge
from desk.services import client_erase
from insight.selectors.journey_map import journey_funnel, overall_conversion
from insight.selectors.scope import Scope, Slices
from insight.selectors.value import value_figures
from insight.services import rollups_rebuild
from journeys.models import Enrollment
from tests.factories import BoutiqueFactory, make_staff
from tests.insight.helpers import START, buy, make_client, make_journey, walk

pytestmark = pytest.mark.django_db
HOUSE = Scope(boutique_ids=None)
JANUARY = Slices(since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 31))
AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_a_client_who_returns_everything_is_no_revenue_and_no_purchase():
    boutique = BoutiqueFactory()
    client = make_client(boutique)
    buy(client, START, "800.00", returned=2)
    other = make_client(boutique)
    buy(other, START, "500.00")
    buy(other, START + dt.timedelta(days=1), "300.00", status="cancelled")
    rollups_rebuild()

    figures = value_figures(slices=JANUARY, scope=HOUSE)

    assert (figures.revenue, figures.orders, figures.new_clients) == (Decimal("1000.00"), 1, 1)
    assert figures.average_order_value == Decimal("1000.00")


def test_a_merge_does_not_double_a_client_among_new_clients():
    boutique = BoutiqueFactory()
    surviving, merged = make_client(boutique), make_client(boutique)
    buy(surviving, START, "100.00")
    buy(merged, START + dt.timedelta(days=2), "100.00")
    rollups_rebuild()
    assert value_figures(slices=JANUARY, scope=HOUSE).new_clients == 2

    customer_merge(surviving=surviving, merged=merged)
    rollups_rebuild()

    figures = value_figures(slices=JANUARY, scope=HOUSE)
    assert (figures.new_clients, figures.orders, figures.revenue) == (1, 2, Decimal("400.00"))


def test_an_erased_client_stays_in_the_counts_anonymously():
    boutique = BoutiqueFactory()
    journey, stages = make_journey()
    client = make_client(boutique)
    buy(client, START, "250.00")
    walk(client, journey, stages, [3])
    manager = make_staff(Advisor.Role.HEAD_OFFICE)

    client_erase(customer=client, actor=manager)
    rollups_rebuild()

    client.refresh_from_db()
    assert client.is_anonymized
    figures = value_figures(slices=JANUARY, scope=HOUSE)
    assert (figures.revenue, figures.orders, figures.new_clients) == (Decimal("500.00"), 1, 1)
    first = journey_funnel(journey=journey, slices=JANUARY, scope=HOUSE, as_of=AS_OF)[0]
    assert (first.entered, first.moved_on) == (1, 1)


def test_a_stages_drop_respects_its_target_days():
    boutique = BoutiqueFactory()
    journey, stages = make_journey(targets=(10, 20, None))
    on_time, late, waiting, gone = (make_client(boutique) for _ in range(4))
    walk(on_time, journey, stages, [10, 5])  # moved on on the 10th day: in time
    walk(late, journey, stages, [11])  # moved after 11 days: dropped when the 10 days ran out
    walk(waiting, journey, stages, [], start=START + dt.timedelta(days=20))  # entered the 25th, 10 days not over
    enrollment = walk(gone, journey, stages, [])
    Enrollment.objects.filter(pk=enrollment.pk).update(exited_at=START + dt.timedelta(days=2))  # left the journey
    rollups_rebuild()

    as_of = START + dt.timedelta(days=25)
    first, second, third = journey_funnel(journey=journey, slices=JANUARY, scope=HOUSE, as_of=as_of)

    assert (first.entered, first.moved_on, first.dropped, first.in_stage) == (4, 1, 2, 1)
    assert first.moves == {stages[1].pk: 1}
    assert first.conversion == 0.25
    assert (first.median_days_in_stage, first.p90_days_in_stage) == (10.5, 10.9)
    # The late mover's second stay began on the 12th, the on-time one's on the 15th; 20 days not over on the 30th.
    assert (second.entered, second.moved_on, second.dropped, second.in_stage) == (2, 1, 0, 1)
    assert (third.entered, third.dropped) == (1, 0)  # no target: never dropped by time
    assert overall_conversion([first, second, third]) == 0.25
