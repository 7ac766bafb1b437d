"""Every figure read from the rollups equals the same figure computed from the raw tables (insight.selectors.raw),
on generated data with returns, cancellations, other currencies, merges, erasures and late orders: after a full
rebuild, and after the same changes arrive one by one through the commit hook (no rebuild)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from customers.models import Advisor, Customer
from customers.services import customer_merge
from desk.services import client_erase
from insight.models import StageStay, ValueFact
from insight.selectors.client_sets import stage_stays
from insight.selectors.journey_map import journey_funnel
from insight.selectors.raw import raw_journey_funnel, raw_stay_clients, raw_stays, raw_value_figures
from insight.selectors.scope import Scope, Slices
from insight.selectors.value import value_figures
from insight.services import rollups_rebuild, rollups_reconcile
from journeys.models import Enrollment, Transition
from journeys.services import enrollment_enroll, enrollment_move
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, make_staff
from tests.insight.helpers import START, buy, make_client, make_journey

pytestmark = pytest.mark.django_db
AS_OF = START + dt.timedelta(days=200)
PERIODS = [(dt.date(2025, 1, 1), dt.date(2026, 12, 31)), (dt.date(2026, 1, 1), dt.date(2026, 1, 31)),
           (dt.date(2026, 2, 10), dt.date(2026, 4, 30))]


def generate(seed: int = 15):
    """Three boutiques, their advisors, personas; clients walking a journey; orders of every kind."""
    rng = random.Random(seed)
    boutiques = [BoutiqueFactory() for _ in range(3)]
    advisors = [AdvisorFactory(boutique=boutique) for boutique in boutiques for _ in range(2)]
    personas = [PersonaFactory() for _ in range(2)]
    journey, stages = make_journey(targets=(7, 14, None, 30))
    clients = []
    for _ in range(48):
        advisor = rng.choice(advisors)
        client = make_client(advisor.boutique, advisor if rng.random() < 0.8 else None,
                             rng.choice([*personas, None]))
        clients.append(client)
        moment = START + dt.timedelta(days=rng.randint(-20, 90), hours=rng.randint(0, 23))
        enrollment, _ = enrollment_enroll(customer=client, journey=journey, stage=stages[0], occurred_at=moment)
        position = 0
        for _ in range(rng.randint(0, 4)):
            choices = [stage for stage in stages if stage.pk != stages[position].pk]
            target = rng.choice(choices)
            moment += dt.timedelta(days=rng.choice([1, 5, 7, 8, 13, 20, 40]), minutes=rng.randint(0, 600))
            enrollment_move(enrollment=enrollment, to_stage=target, cause=Transition.Cause.MANUAL, occurred_at=moment)
            position = stages.index(target)
        if rng.random() < 0.15:
            Enrollment.objects.filter(pk=enrollment.pk).update(exited_at=moment + dt.timedelta(days=rng.randint(0, 9)))
        for _ in range(rng.randint(0, 4)):
            placed = START + dt.timedelta(days=rng.randint(-40, 150), hours=rng.randint(0, 23))
            kind = rng.random()
            if kind < 0.1:
                buy(client, placed, "400.00", status="cancelled")
            elif kind < 0.2:
                buy(client, placed, "700.00", status="returned")
            elif kind < 0.3:
                buy(client, placed, "900.00", returned=rng.choice([1, 2]))
            elif kind < 0.4:
                buy(client, placed, "1500.00", currency="USD")
            else:
                buy(client, placed, f"{rng.randint(100, 5000)}.00", status=rng.choice(["placed", "fulfilled"]))
    return {"rng": rng, "boutiques": boutiques, "advisors": advisors, "personas": personas, "journey": journey,
            "stages": stages, "clients": clients}


def change_history(house) -> None:
    """Merges, erasures, a late order from a year ago, a refund arriving later."""
    clients, head_office = house["clients"], make_staff(Advisor.Role.HEAD_OFFICE)
    for surviving, merged in [(clients[0], clients[1]), (clients[2], clients[5]), (clients[7], clients[30])]:
        customer_merge(surviving=Customer.objects.get(pk=surviving.pk), merged=Customer.objects.get(pk=merged.pk))
    for client in (clients[10], clients[11]):
        client_erase(customer=Customer.objects.get(pk=client.pk), actor=head_office)
    late = Customer.objects.get(pk=clients[12].pk)
    buy(late, START - dt.timedelta(days=365), "3000.00", external_id="LATE-1")
    refund = buy(Customer.objects.get(pk=clients[13].pk), START + dt.timedelta(days=3), "800.00", external_id="R-1")
    buy(Customer.objects.get(pk=clients[13].pk), refund.placed_at, "800.00", status="returned", external_id="R-1")


def scopes(house) -> list[tuple[Scope, dict]]:
    boutique, advisor = house["boutiques"][0], house["advisors"][0]
    return [
        (Scope(boutique_ids=None), {}),
        (Scope(boutique_ids=None), {"boutique_id": house["boutiques"][1].pk}),
        (Scope(boutique_ids=[boutique.pk]), {}),
        (Scope(boutique_ids=[boutique.pk], advisor_id=advisor.pk), {}),
        (Scope(boutique_ids=None), {"persona_id": house["personas"][0].pk}),
        (Scope(boutique_ids=None), {"value_tier": "client"}),
        (Scope(boutique_ids=[]), {}),
    ]


def assert_rollups_equal_raw(house) -> int:
    compared = 0
    stays = raw_stays(journey=house["journey"], as_of=AS_OF)
    for since, until in PERIODS:
        for scope, extra in scopes(house):
            slices = Slices(since=since, until=until, **extra)
            rolled = [s.as_dict() for s in journey_funnel(journey=house["journey"], slices=slices, scope=scope,
                                                          as_of=AS_OF)]
            raw = [s.as_dict() for s in raw_journey_funnel(journey=house["journey"], slices=slices, scope=scope,
                                                           as_of=AS_OF, stays=stays)]
            assert rolled == raw, (slices, scope)
            value_slices = Slices(since=since, until=until, boutique_id=extra.get("boutique_id"))
            assert value_figures(slices=value_slices, scope=scope) == raw_value_figures(slices=value_slices,
                                                                                        scope=scope)
            for stage in house["stages"][:2]:
                for measure in ("entered", "moved_on", "dropped", "in_stage"):
                    listed = set(stage_stays(stage_id=stage.pk, measure=measure, slices=slices, scope=scope,
                                             as_of=AS_OF).values_list("customer_id", flat=True))
                    assert listed == raw_stay_clients(journey=house["journey"], stage_id=stage.pk, measure=measure,
                                                      slices=slices, scope=scope, as_of=AS_OF, stays=stays)
            compared += 1
    return compared


def test_rebuilt_rollups_equal_the_raw_figures_on_generated_data():
    house = generate()
    change_history(house)

    counts = rollups_rebuild()

    assert counts["stays"] == Transition.objects.count() == StageStay.objects.count()
    assert assert_rollups_equal_raw(house) == len(PERIODS) * 7
    # Something was counted in every kind of figure (the comparison is not of empty tables).
    house_funnel = journey_funnel(journey=house["journey"], slices=Slices(*PERIODS[0]), scope=Scope(None),
                                  as_of=AS_OF)
    assert all(stage.entered for stage in house_funnel)
    assert sum(s.dropped for s in house_funnel) > 0
    assert sum(s.moved_on for s in house_funnel) > 0
    assert value_figures(slices=Slices(*PERIODS[0]), scope=Scope(None)).new_clients > 20


def test_rollups_kept_by_the_commit_hook_equal_the_raw_figures(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        house = generate(seed=16)
    assert StageStay.objects.count() == Transition.objects.count()
    assert_rollups_equal_raw(house)

    with django_capture_on_commit_callbacks(execute=True):
        change_history(house)

    assert_rollups_equal_raw(house)
    assert not ValueFact.objects.exclude(customer_id__in=Customer.objects.values("pk")).exists()


def test_the_reconciliation_catches_up_what_no_hook_announced():
    house = generate(seed=17)  # no commit callbacks run: the rollups know nothing
    assert StageStay.objects.count() == 0

    totals = rollups_reconcile(since=dt.date(2020, 1, 1))

    assert totals["clients"] == Customer.objects.count()
    assert_rollups_equal_raw(house)
