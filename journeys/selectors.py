"""Reads of journeys: stage moves and follow-ups on the client timeline, a client's enrollments, and what the rule
engine reads about a batch of clients (their rules, pauses and recent manual moves) in a few set-based queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from customers.models import Customer
from journeys.models import Enrollment, FollowUp, HandsOff, Rule, Stage, Transition
from touchpoints.selectors import TimelineSource


def _load_transitions(pks: list[int]) -> dict[int, Transition]:
    queryset = Transition.objects.filter(pk__in=pks).select_related(
        "enrollment__journey", "from_stage", "to_stage", "rule", "actor"
    )
    return {transition.pk: transition for transition in queryset}


def transition_timeline_source() -> TimelineSource:
    return TimelineSource(
        kind="transition",
        rows=lambda customer: Transition.objects.filter(enrollment__customer=customer),
        time_field="occurred_at",
        load=_load_transitions,
    )


def _load_followups(pks: list[int]) -> dict[int, FollowUp]:
    queryset = FollowUp.objects.filter(pk__in=pks).select_related("template", "advisor__user", "rule")
    return {followup.pk: followup for followup in queryset}


def followup_timeline_source() -> TimelineSource:
    """Follow-ups sit on the timeline at their due time (index followup_customer_idx), so a scheduled gesture shows
    where it will happen and a sent one where it was meant to."""
    return TimelineSource(
        kind="followup",
        rows=lambda customer: FollowUp.objects.filter(customer=customer),
        time_field="due_at",
        load=_load_followups,
    )


def customer_enrollments(*, customer: Customer) -> QuerySet[Enrollment]:
    """A client's journeys with their current stage, open ones first."""
    return (
        Enrollment.objects.filter(customer=customer)
        .select_related("journey", "stage")
        .order_by("exited_at", "journey__name")
    )


def stages_of_active_journeys() -> QuerySet[Stage]:
    """Every stage a client can be put in by hand: those of active journeys, by journey then position."""
    return Stage.objects.filter(journey__is_active=True).select_related("journey").order_by("journey__name", "position")


def rules_active(*, triggers: Iterable[str]) -> QuerySet[Rule]:
    """Active rules of active journeys with these triggers, in the order they run (journey, priority, pk), with
    what the engine needs loaded: the stage, the template and the many-to-many choices."""
    return (
        Rule.objects.filter(is_active=True, journey__is_active=True, trigger__in=list(triggers))
        .select_related("journey", "to_stage", "followup_template")
        .prefetch_related("touchpoint_types", "from_stages", "boutiques")
        .order_by("journey_id", "priority", "pk")
    )


def hands_off_active_q(*, at: dt.datetime, prefix: str = "") -> Q:
    """The open pauses in force at `at` (started, not lifted, not past their end)."""
    return Q(**{f"{prefix}lifted_at__isnull": True, f"{prefix}starts_at__lte": at}) & (
        Q(**{f"{prefix}until__isnull": True}) | Q(**{f"{prefix}until__gt": at})
    )


def customers_on_hands_off(*, customer_ids: Iterable[int], at: dt.datetime) -> set[int]:
    """Which of these clients an advisor has put on hands-off at `at`."""
    return set(
        HandsOff.objects.filter(hands_off_active_q(at=at), customer_id__in=list(customer_ids))
        .values_list("customer_id", flat=True)
    )


def enrollments_in_manual_grace(*, enrollment_ids: Iterable[int], since: dt.datetime) -> set[int]:
    """Which of these enrollments staff moved (or placed) by hand since `since`: rules leave them where they are."""
    return set(
        Transition.objects.filter(
            enrollment_id__in=list(enrollment_ids), cause=Transition.Cause.MANUAL, occurred_at__gte=since
        ).values_list("enrollment_id", flat=True)
    )



def hands_off_in_force(*, customer: Customer, at: dt.datetime) -> HandsOff | None:
    """The client's pause holding at `at` (started, not lifted, not past its end), if any."""
    return HandsOff.objects.filter(hands_off_active_q(at=at), customer=customer).select_related("set_by").first()
