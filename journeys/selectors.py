"""Reads of journeys: stage moves and follow-ups on the client timeline, a client's enrollments, what the rule
engine reads about a batch of clients (their rules, pauses and recent manual moves) in a few set-based queries, and
the results of follow-up templates (per variant, against the holdout)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from customers.models import Customer
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, HandsOff, Rule, Stage, Transition
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


# --- Follow-up results --------------------------------------------------------------------------------------------

# Below this p-value a difference is called significant on the results page (two-sided).
SIGNIFICANCE_LEVEL = 0.05


@dataclass(frozen=True)
class ProportionTest:
    """A two-proportion z-test (pooled, two-sided) of conversion between two groups."""

    z: float
    p_value: float

    @property
    def is_significant(self) -> bool:
        return self.p_value < SIGNIFICANCE_LEVEL


def two_proportion_test(converted_a: int, total_a: int, converted_b: int, total_b: int) -> ProportionTest | None:
    """Is the conversion rate of A different from B's? None when a group is empty or nobody (or everybody)
    converted in both, where the test says nothing. The normal tail comes from math.erfc: no scipy needed."""
    if total_a <= 0 or total_b <= 0:
        return None
    pooled = (converted_a + converted_b) / (total_a + total_b)
    if pooled in (0, 1):
        return None
    error = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    z = (converted_a / total_a - converted_b / total_b) / error
    return ProportionTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class GroupResult:
    """One variant of a template (or all variants together, or the holdout): how many follow-ups reached clients
    (sent, or done for advisor tasks), how many of those clients bought within the window, and for how much.
    For the holdout, `reached` counts the held-out follow-ups that would have gone (the dispatcher weighed them
    with the same checks as the real ones); clients who would not have got it are in neither group."""

    label: str
    scheduled: int = 0
    sent: int = 0
    opened: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
    reached: int = 0
    converted: int = 0
    revenue: Decimal = Decimal("0")
    against_holdout: ProportionTest | None = None

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.reached if self.reached else None


@dataclass(frozen=True)
class TemplateResults:
    """A template's results per variant, all variants together, the holdout, and the tests between them."""

    variants: list[GroupResult]
    treated: GroupResult
    holdout: GroupResult
    between_variants: list[tuple[str, str, ProportionTest | None]] = field(default_factory=list)


_REACHED = (FollowUp.Status.SENT, FollowUp.Status.DONE)


def _group(label: str, rows: list[dict]) -> dict:
    counts = {"label": label, "scheduled": 0, "sent": 0, "opened": 0, "done": 0, "failed": 0, "cancelled": 0,
              "reached": 0, "converted": 0, "revenue": Decimal("0")}
    for row in rows:
        status = row["status"]
        if status in (FollowUp.Status.SCHEDULED, FollowUp.Status.SENDING):
            counts["scheduled"] += row["total"]
        elif status in ("sent", "done", "failed", "cancelled"):
            counts[status] += row["total"]
        if status == FollowUp.Status.SENT:
            counts["opened"] += row["opened"]
        if status in _REACHED:
            counts["reached"] += row["total"]
            counts["converted"] += row["converted"]
            counts["revenue"] += row["revenue"] or Decimal("0")
        elif status == FollowUp.Status.HELD_OUT:
            # Only those the dispatcher found would have gone (sent_at set); not yet due ones are not counted.
            counts["reached"] += row["weighed"]
            counts["converted"] += row["converted"]
            counts["revenue"] += row["revenue"] or Decimal("0")
    return counts


def followup_results(*, template: FollowUpTemplate, viewer: Any) -> TemplateResults:
    """Per variant of a template: sent, opened (where known), done, converted (an order attributed within the
    window), conversion rate and revenue (house currency), each variant tested against the holdout and against
    the other variants; counted over the follow-ups of the clients `viewer` may see (an advisor: their boutique's;
    head office: the house's). One query."""
    rows = list(
        FollowUp.objects.visible_to(viewer).filter(template=template)
        .values("variant__label", "status")
        .annotate(total=Count("pk"), weighed=Count("pk", filter=Q(sent_at__isnull=False)),
                  opened=Count("pk", filter=Q(opened_at__isnull=False)),
                  converted=Count("pk", filter=Q(attributed_order__isnull=False)),
                  revenue=Sum("attributed_order__total_house"))
        .order_by("variant__label", "status")
    )
    holdout = GroupResult(**_group("Holdout", [row for row in rows if row["status"] == FollowUp.Status.HELD_OUT]))
    treated_rows = [row for row in rows if row["status"] != FollowUp.Status.HELD_OUT]
    labels = sorted({row["variant__label"] or "(no variant)" for row in treated_rows})

    def with_test(counts: dict) -> GroupResult:
        test = two_proportion_test(counts["converted"], counts["reached"], holdout.converted, holdout.reached)
        return GroupResult(**counts, against_holdout=test)

    variants = [
        with_test(_group(label, [row for row in treated_rows if (row["variant__label"] or "(no variant)") == label]))
        for label in labels
    ]
    between = [
        (a.label, b.label, two_proportion_test(a.converted, a.reached, b.converted, b.reached))
        for index, a in enumerate(variants)
        for b in variants[index + 1:]
    ]
    return TemplateResults(variants=variants, treated=with_test(_group("All variants", treated_rows)),
                           holdout=holdout, between_variants=between)


def template_result_counts(*, viewer: Any) -> dict:
    """Annotations for a FollowUpTemplate queryset: reached_count, converted_count, holdout_count and
    holdout_converted_count, counted as followup_results counts them, over the follow-ups of the clients `viewer`
    may see (the admin's list of templates)."""
    followups = FollowUp.objects.visible_to(viewer).filter(template=OuterRef("pk")).order_by()
    reached = Q(status__in=_REACHED)
    weighed_holdout = Q(status=FollowUp.Status.HELD_OUT, sent_at__isnull=False)
    converted = Q(attributed_order__isnull=False)

    def count(condition: Q) -> Coalesce:
        counted = followups.filter(condition).values("template").annotate(total=Count("pk")).values("total")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    return {
        "reached_count": count(reached),
        "converted_count": count(reached & converted),
        "holdout_count": count(weighed_holdout),
        "holdout_converted_count": count(weighed_holdout & converted),
    }


def rules_active(*, triggers: Iterable[str]) -> QuerySet[Rule]:
    """Active rules of active journeys with these triggers, in the order they run (journey, priority, pk), with
    what the engine needs loaded: the stage, the template and the many-to-many choices."""
    return (
        Rule.objects.filter(is_active=True, journey__is_active=True, trigger__in=list(triggers))
        .select_related("journey__segment", "to_stage", "followup_template")
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
