"""Reads of journeys: stage moves on the client timeline, and a client's enrollments."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer
from journeys.models import Enrollment, Transition
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


def customer_enrollments(*, customer: Customer) -> QuerySet[Enrollment]:
    """A client's journeys with their current stage, open ones first."""
    return (
        Enrollment.objects.filter(customer=customer)
        .select_related("journey", "stage")
        .order_by("exited_at", "journey__name")
    )
