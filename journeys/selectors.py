"""Reads of journeys: stage moves and follow-ups on the client timeline, and a client's enrollments."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer
from journeys.models import Enrollment, FollowUp, Stage, Transition
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
