"""The same figures as the rollups, computed straight from the raw tables (Transition, Enrollment, Order,
Customer) in plain Python: the independent reference the tests and bench/insight.py compare the rollups with.

Written apart from insight.services.rollups on purpose (no shared SQL), from the definitions: a stay runs from a
transition into a stage to the client's next transition; it moved on when that came within the stage's target days;
it dropped when the client left the journey, or the target days ran out, first. Value counts placed and fulfilled
orders at their net total in the house currency; an order is a purchase when its net total is above zero; a new
client's first purchase falls in the period. Days are those of the back office's time zone (TIME_ZONE).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone

from customers.models import Customer
from insight.selectors.journey_map import StageFigures, journey_stages
from insight.selectors.scope import Scope, Slices
from insight.selectors.value import ValueFigures
from journeys.models import Enrollment, Journey, Stage, Transition
from touchpoints.models import Order


def _percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)


def _in_scope(customer: Customer, scope: Scope, slices: Slices) -> bool:
    if scope.boutique_ids is not None and customer.home_boutique_id not in scope.boutique_ids:
        return False
    if scope.advisor_id is not None and customer.advisor_id != scope.advisor_id:
        return False
    wanted = {"home_boutique_id": slices.boutique_id, "advisor_id": slices.advisor_id,
              "persona_id": slices.persona_id, "value_tier": slices.value_tier}
    return all(value is None or getattr(customer, name) == value for name, value in wanted.items())


def raw_stays(*, journey: Journey, as_of: dt.datetime) -> list[dict]:
    """Every stay in the journey's stages, from the transitions."""
    targets = dict(Stage.objects.filter(journey=journey).values_list("pk", "target_days"))
    enrollments = {e.pk: e for e in Enrollment.objects.filter(journey=journey).select_related("customer")}
    by_enrollment: dict[int, list[Transition]] = defaultdict(list)
    for transition in Transition.objects.filter(enrollment__journey=journey).order_by():
        by_enrollment[transition.enrollment_id].append(transition)
    stays = []
    for enrollment_id, transitions in by_enrollment.items():
        enrollment = enrollments[enrollment_id]
        transitions.sort(key=lambda t: (t.occurred_at, t.pk))
        for index, transition in enumerate(transitions):
            following = transitions[index + 1] if index + 1 < len(transitions) else None
            target = targets.get(transition.to_stage_id)
            due = transition.occurred_at + dt.timedelta(days=target) if target is not None else None
            moved_on = following is not None and (due is None or following.occurred_at <= due)
            ends = []
            if not moved_on:
                if following is None and enrollment.exited_at and enrollment.exited_at >= transition.occurred_at:
                    ends.append(enrollment.exited_at)
                if due is not None:
                    ends.append(due)
            stays.append({
                "customer": enrollment.customer, "stage": transition.to_stage_id,
                "entered_on": timezone.localtime(transition.occurred_at).date(),
                "days": (following.occurred_at - transition.occurred_at).total_seconds() / 86400 if following else None,
                "moved_on": moved_on, "to_stage": following.to_stage_id if following else None,
                "dropped": bool(ends) and min(ends) <= as_of,
            })
    return stays


def raw_stay_clients(*, journey: Journey, stage_id: int, measure: str, slices: Slices, scope: Scope,
                     as_of: dt.datetime, stays: list[dict] | None = None) -> set[int]:
    """The clients behind one number of the map, from the raw tables (or the `stays` raw_stays gave)."""
    clients = set()
    for stay in raw_stays(journey=journey, as_of=as_of) if stays is None else stays:
        if stay["stage"] != stage_id or not slices.since <= stay["entered_on"] <= slices.until:
            continue
        if not _in_scope(stay["customer"], scope, slices):
            continue
        in_stage = not stay["moved_on"] and not stay["dropped"]
        if {"entered": True, "moved_on": stay["moved_on"], "dropped": stay["dropped"], "in_stage": in_stage}[measure]:
            clients.add(stay["customer"].pk)
    return clients


def raw_journey_funnel(*, journey: Journey, slices: Slices, scope: Scope, as_of: dt.datetime,
                       stays: list[dict] | None = None) -> list[StageFigures]:
    stages = journey_stages(journey)
    by_id = {figures.stage: figures for figures in stages}
    durations: dict[int, list[float]] = defaultdict(list)
    for stay in raw_stays(journey=journey, as_of=as_of) if stays is None else stays:
        if not slices.since <= stay["entered_on"] <= slices.until or not _in_scope(stay["customer"], scope, slices):
            continue
        figures = by_id[stay["stage"]]
        figures.entered += 1
        if stay["moved_on"]:
            figures.moved_on += 1
            figures.moves[stay["to_stage"]] = figures.moves.get(stay["to_stage"], 0) + 1
        elif stay["dropped"]:
            figures.dropped += 1
        if stay["days"] is not None:
            durations[stay["stage"]].append(stay["days"])
    for stage_id, values in durations.items():
        by_id[stage_id].median_days_in_stage = _percentile(values, 0.5)
        by_id[stage_id].p90_days_in_stage = _percentile(values, 0.9)
    return stages


def raw_value_figures(*, slices: Slices, scope: Scope) -> ValueFigures:
    revenue, orders, new_clients = Decimal("0.00"), 0, 0
    first: dict[int, tuple] = {}
    customers = {c.pk: c for c in Customer.objects.all()}
    for order in Order.objects.filter(status__in=Order.COUNTED_STATUSES).order_by():
        if order.total > 0:
            key = (order.placed_at, order.pk)
            if order.customer_id not in first or key < first[order.customer_id][0]:
                first[order.customer_id] = (key, order)
        if not slices.since <= timezone.localtime(order.placed_at).date() <= slices.until:
            continue
        customer = customers[order.customer_id]
        if not _in_scope(customer, scope, Slices(slices.since, slices.until, slices.boutique_id, slices.advisor_id)):
            continue
        revenue += order.total_house
        orders += 1 if order.total > 0 else 0
    for customer_id, (_, order) in first.items():
        customer = customers[customer_id]
        in_period = slices.since <= timezone.localtime(order.placed_at).date() <= slices.until
        if in_period and _in_scope(customer, scope, Slices(slices.since, slices.until, slices.boutique_id,
                                                            slices.advisor_id)):
            new_clients += 1
    return ValueFigures(revenue=revenue, orders=orders, new_clients=new_clients)
