"""Reads of the manager's and head office's landing pages: a boutique's team with each advisor's open and overdue
tasks, and the house, every boutique with its figures.

"Overdue" is the day's word (desk.day): due before today began on the boutique's clock. Each table is a fixed
handful of queries, whatever the number of advisors, boutiques or tasks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone

from customers.models import Advisor, Boutique, Customer
from desk.day import DAY_ROLES, DayWindow
from feedback.models import RecoveryCase
from journeys.models import FollowUp, FollowUpTemplate


@dataclass(frozen=True)
class TeamMember:
    """One advisor of a boutique (None: the tasks nobody is assigned), with their open tasks: all still to do,
    those due today, and those overdue."""

    advisor: Advisor | None
    open_tasks: int
    due_today: int
    overdue: int


@dataclass(frozen=True)
class BoutiqueFigures:
    """One boutique as head office sees it from the house page."""

    boutique: Boutique
    clients: int
    lifetime_value: Decimal
    advisors: int
    open_tasks: int
    overdue: int
    open_recovery_cases: int


def _open_tasks(user: Any):
    return FollowUp.objects.visible_to(user).filter(
        channel=FollowUpTemplate.Channel.ADVISOR_TASK,
        status=FollowUp.Status.SCHEDULED,
        customer__is_anonymized=False,
    )


def day_team(*, user: Any, boutique: Boutique, window: DayWindow) -> list[TeamMember]:
    """The boutique's active advisors and managers by name, each with their task counts, then the unassigned
    tasks' row when there are any. Two queries."""
    counts = {
        row["advisor_id"]: row
        for row in _open_tasks(user)
        .filter(customer__home_boutique=boutique)
        .values("advisor_id")
        .annotate(
            open_tasks=Count("pk"),
            due_today=Count("pk", filter=Q(due_at__gte=window.start_of_today, due_at__lt=window.start_of_tomorrow)),
            overdue=Count("pk", filter=Q(due_at__lt=window.start_of_today)),
        )
    }
    advisors = (
        Advisor.objects.visible_to(user)
        .filter(boutique=boutique, is_active=True, role__in=DAY_ROLES)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )

    def member(advisor: Advisor | None, row: dict | None) -> TeamMember:
        row = row or {}
        return TeamMember(advisor=advisor, open_tasks=row.get("open_tasks", 0), due_today=row.get("due_today", 0),
                          overdue=row.get("overdue", 0))

    team = [member(advisor, counts.pop(advisor.pk, None)) for advisor in advisors]
    # Tasks of a former advisor (inactive, or moved away) are as forgotten as unassigned ones: counted together.
    leftovers = list(counts.values())
    if leftovers:
        team.append(TeamMember(advisor=None, open_tasks=sum(row["open_tasks"] for row in leftovers),
                               due_today=sum(row["due_today"] for row in leftovers),
                               overdue=sum(row["overdue"] for row in leftovers)))
    return team


def house_boutiques(*, user: Any, now: dt.datetime | None = None) -> list[BoutiqueFigures]:
    """Every boutique `user` reaches, by name, with its clients, their lifetime value (in the house currency, as
    the metrics keep it), active staff, open and overdue tasks (overdue on each boutique's own clock) and open
    service-recovery cases. Five queries, whatever the number of boutiques."""
    now = now or timezone.now()
    boutiques = list(Boutique.objects.visible_to(user).order_by("name", "pk"))
    clients = {
        row["home_boutique_id"]: row
        for row in Customer.objects.visible_to(user)
        .filter(is_anonymized=False, home_boutique__isnull=False)
        .values("home_boutique_id")
        .annotate(clients=Count("pk"), value=Sum("lifetime_value"))
    }
    staff = dict(
        Advisor.objects.visible_to(user)
        .filter(is_active=True, role__in=DAY_ROLES, boutique__isnull=False)
        .values("boutique_id")
        .annotate(count=Count("pk"))
        .values_list("boutique_id", "count")
    )
    # Overdue means before today began in the task's boutique: one condition per boutique, in the one query.
    overdue = Q(pk__in=[])
    for boutique in boutiques:
        start = DayWindow.for_boutique(time_zone=boutique.timezone, now=now).start_of_today
        overdue |= Q(customer__home_boutique=boutique, due_at__lt=start)
    tasks = {
        row["customer__home_boutique_id"]: row
        for row in _open_tasks(user)
        .values("customer__home_boutique_id")
        .annotate(open_tasks=Count("pk"), overdue=Count("pk", filter=overdue))
    }
    cases = dict(
        RecoveryCase.objects.visible_to(user)
        .filter(status=RecoveryCase.Status.OPEN, customer__is_anonymized=False)
        .values("customer__home_boutique_id")
        .annotate(count=Count("pk"))
        .values_list("customer__home_boutique_id", "count")
    )
    return [
        BoutiqueFigures(
            boutique=boutique,
            clients=clients.get(boutique.pk, {}).get("clients", 0),
            lifetime_value=clients.get(boutique.pk, {}).get("value") or Decimal("0"),
            advisors=staff.get(boutique.pk, 0),
            open_tasks=tasks.get(boutique.pk, {}).get("open_tasks", 0),
            overdue=tasks.get(boutique.pk, {}).get("overdue", 0),
            open_recovery_cases=cases.get(boutique.pk, 0),
        )
        for boutique in boutiques
    ]
