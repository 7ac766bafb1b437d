"""Reads of the advisor's day: the tasks due, today's appointments, the service-recovery cases open, the birthdays
of the week, the best clients gone quiet, and what clients said lately. An advisor sees their own client book; a
boutique manager sees the whole boutique, and may open each of its advisors' days; head office may open any
boutique's or advisor's day.

"Today" and "this week" are the boutique's, not the server's: a task due at 08:00 in Tokyo is today's task for
the Tokyo advisor whatever the clock of the server says. Each list is one query, whatever its length.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, Case, ExpressionWrapper, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from customers.models import Advisor, Boutique, Customer
from customers.scoping import visible_boutique_ids
from feedback.models import RecoveryCase, Response
from insight.models import ClientPrediction
from insight.selectors_predictions import clients_at_risk
from journeys.models import FollowUp, FollowUpTemplate
from touchpoints.models import Appointment

# How far back a visit or a purchase still counts as recent contact with a top client.
QUIET_DAYS = 90
# How far back feedback is still news.
FEEDBACK_DAYS = 14
# Longest lists the page shows; each list is one query of at most this many rows.
TASK_LIMIT = 50
BIRTHDAY_LIMIT = 50
QUIET_CLIENT_LIMIT = 10
FEEDBACK_LIMIT = 20
RECOVERY_LIMIT = 50
AT_RISK_LIMIT = 10
APPOINTMENT_LIMIT = 50

# The roles whose landing page is the day; head office works across boutiques and lands on the full index.
DAY_ROLES = (Advisor.Role.ADVISOR, Advisor.Role.BOUTIQUE_MANAGER)


@dataclass(frozen=True)
class Birthday:
    """A client whose birthday falls this week, on `day` (28 February for 29 February birthdays in common years)."""

    customer: Customer
    day: dt.date

    @property
    def age(self) -> int:
        return self.day.year - self.customer.birth_date.year


@dataclass(frozen=True)
class ClientAtRisk:
    """A client of the book whose churn risk is high (foresight), why in the advisor's words, and the next step."""

    prediction: ClientPrediction
    reason: str
    next_step: str

    @property
    def customer(self) -> Customer:
        return self.prediction.customer


def _at_risk(prediction: ClientPrediction, today: dt.date) -> ClientAtRisk:
    customer = prediction.customer
    since = (today - prediction.last_purchase_on).days
    if prediction.purchase_days > 1 and prediction.typical_gap_days:
        reason = (f"usually buys every ~{prediction.typical_gap_days:.0f} days; {since} days since the last purchase; "
                  f"{prediction.probability_alive:.0%} likely still active")
    else:
        reason = f"one purchase so far, {since} days ago"
    # The next step goes through a channel the client agreed to be approached on for marketing, the warmest first.
    consent = customer.consent or {}
    if consent.get("phone_marketing"):
        step = f"Call {customer.first_name or 'the client'} with a personal invitation to the boutique"
    elif consent.get("messaging_marketing"):
        step = "Send a personal message with what is new in their categories"
    elif consent.get("email_marketing"):
        step = "Write a personal email with an invitation to the boutique"
    else:
        step = "No consent to reach out: welcome them back in person and ask how they wish to hear from you"
    return ClientAtRisk(prediction=prediction, reason=reason, next_step=step)


@dataclass(frozen=True)
class AdvisorDay:
    """What one day page shows, for one moment in the boutique's time zone: an advisor's book, or (boutique-wide)
    every client of the boutique. `advisor` is the staff member whose day it is; None for a boutique's day opened
    by head office."""

    boutique: Boutique
    advisor: Advisor | None
    is_boutique_wide: bool
    today: dt.date
    week: list[dt.date]
    tasks: list[FollowUp]
    birthdays: list[Birthday]
    quiet_top_clients: list[Customer]
    recent_feedback: list[Response]
    recovery_cases: list[RecoveryCase]
    # Foresight: the book's clients at high churn risk, the most valuable first, each with the advisor's next step.
    clients_at_risk: list[ClientAtRisk] = field(default_factory=list)
    # Today's booked appointments on the boutique's clock: the advisor's own, or every advisor's for the boutique.
    appointments: list[Appointment] = field(default_factory=list)

    @property
    def snooze_default(self) -> str:
        """What the snooze field proposes: tomorrow at 10:00, boutique time (an HTML datetime-local value)."""
        return f"{self.today + dt.timedelta(days=1):%Y-%m-%d}T10:00"


@dataclass(frozen=True)
class DayWindow:
    """The boundaries of today and of this week (Monday to Sunday) in a boutique's time zone."""

    now: dt.datetime
    today: dt.date
    start_of_today: dt.datetime
    start_of_tomorrow: dt.datetime
    week: list[dt.date]

    @classmethod
    def for_boutique(cls, *, time_zone: str, now: dt.datetime) -> DayWindow:
        zone = zoneinfo.ZoneInfo(time_zone)
        today = now.astimezone(zone).date()
        monday = today - dt.timedelta(days=today.weekday())
        return cls(
            now=now,
            today=today,
            start_of_today=dt.datetime.combine(today, dt.time.min, tzinfo=zone),
            start_of_tomorrow=dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
            week=[monday + dt.timedelta(days=offset) for offset in range(7)],
        )


def day_advisor(*, user: Any) -> Advisor | None:
    """The advisor or boutique manager whose day `user` sees; None for head office, superusers and others."""
    if not getattr(user, "is_authenticated", False) or user.is_superuser:
        return None
    return (
        Advisor.objects.select_related("boutique")
        .filter(user=user, is_active=True, role__in=DAY_ROLES, boutique__isnull=False)
        .first()
    )


def _day_clients(*, user: Any, advisor: Advisor | None, is_boutique_wide: bool, boutique: Boutique
                 ) -> QuerySet[Customer]:
    # visible_to is the one scoping rule; the day narrows it to the boutique (head office sees every boutique), and
    # an advisor's book to the clients assigned to them (the (home boutique, advisor) index serves both).
    clients = Customer.objects.visible_to(user).filter(is_anonymized=False, home_boutique=boutique)
    return clients if is_boutique_wide else clients.filter(advisor=advisor)


def day_tasks(*, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False,
              boutique: Boutique) -> QuerySet[FollowUp]:
    """Advisor tasks still to do that are due today or overdue, oldest first, each marked `is_overdue`.

    An advisor sees the tasks assigned to them; a manager sees every task for the boutique's clients, unassigned
    ones included, so that none is forgotten.
    """
    tasks = FollowUp.objects.visible_to(user).filter(
        channel=FollowUpTemplate.Channel.ADVISOR_TASK,
        status=FollowUp.Status.SCHEDULED,
        due_at__lt=window.start_of_tomorrow,
        customer__is_anonymized=False,
        customer__home_boutique=boutique,
    )
    if not is_boutique_wide:
        tasks = tasks.filter(advisor=advisor)
    return (
        tasks.annotate(is_overdue=ExpressionWrapper(Q(due_at__lt=window.start_of_today), output_field=BooleanField()))
        .select_related("customer", "template", "advisor__user")
        .order_by("due_at", "pk")[:TASK_LIMIT]
    )


def _birthday_days(week: list[dt.date]) -> list[tuple[int, int, int]]:
    """(month, day, position in the week) of each birth date celebrated this week."""
    celebrated = []
    for position, day in enumerate(week):
        celebrated.append((day.month, day.day, position))
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            # Born on 29 February: celebrated on the 28th in common years.
            celebrated.append((2, 29, position))
    return celebrated


def day_birthdays(
    *, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False, boutique: Boutique
) -> QuerySet[Customer]:
    """The clients whose birthday falls this week (Monday to Sunday, across a new year too), in the order of the
    week, each annotated with `birthday_position` (0 for Monday)."""
    celebrated = _birthday_days(window.week)
    matches = Q()
    for month, day, _position in celebrated:
        matches |= Q(birth_date__month=month, birth_date__day=day)
    position = Case(
        *[
            When(birth_date__month=month, birth_date__day=day, then=Value(position))
            for month, day, position in celebrated
        ],
        output_field=IntegerField(),
    )
    return (
        _day_clients(user=user, advisor=advisor, is_boutique_wide=is_boutique_wide, boutique=boutique)
        .filter(matches)
        .annotate(birthday_position=position)
        .select_related("advisor__user")
        .order_by("birthday_position", "last_name", "first_name", "pk")[:BIRTHDAY_LIMIT]
    )


def day_quiet_top_clients(
    *, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False, boutique: Boutique
) -> QuerySet[Customer]:
    """The most valuable clients (by lifetime value) with neither a touchpoint nor a purchase for QUIET_DAYS."""
    cutoff = window.now - dt.timedelta(days=QUIET_DAYS)
    return (
        _day_clients(user=user, advisor=advisor, is_boutique_wide=is_boutique_wide, boutique=boutique)
        .filter(lifetime_value__gt=0)
        .filter(Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=cutoff))
        .filter(Q(last_order_at__isnull=True) | Q(last_order_at__lt=cutoff))
        .select_related("advisor__user")
        .order_by("-lifetime_value", "pk")[:QUIET_CLIENT_LIMIT]
    )


def day_recent_feedback(
    *, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False, boutique: Boutique
) -> QuerySet[Response]:
    """Survey answers from the advisor's (or the boutique's) clients in the last FEEDBACK_DAYS, newest first."""
    responses = Response.objects.visible_to(user).filter(
        responded_at__gte=window.now - dt.timedelta(days=FEEDBACK_DAYS), customer__is_anonymized=False,
        customer__home_boutique=boutique,
    )
    if not is_boutique_wide:
        responses = responses.filter(customer__advisor=advisor)
    return responses.select_related("customer", "survey").order_by("-responded_at", "-pk")[:FEEDBACK_LIMIT]


def day_recovery_cases(
    *, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False, boutique: Boutique
) -> QuerySet[RecoveryCase]:
    """Open service-recovery cases (a detractor's answer), the most urgent first, each marked `is_overdue` when its
    first contact is past due. An advisor sees the cases assigned to them; a manager sees the boutique's, unassigned
    ones included."""
    cases = RecoveryCase.objects.visible_to(user).filter(status=RecoveryCase.Status.OPEN,
                                                         customer__is_anonymized=False,
                                                         customer__home_boutique=boutique)
    if not is_boutique_wide:
        cases = cases.filter(advisor=advisor)
    return (
        cases.annotate(is_overdue=ExpressionWrapper(Q(contact_due_at__lt=window.now), output_field=BooleanField()))
        .select_related("customer", "response__survey", "advisor__user")
        .order_by("contact_due_at", "pk")[:RECOVERY_LIMIT]
    )


def day_clients_at_risk(
    *, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False, boutique: Boutique
) -> list[ClientAtRisk]:
    """The clients of the book (or the boutique) at high churn risk by foresight, the highest predicted value first,
    each with why and the next step. One query."""
    clients = _day_clients(user=user, advisor=advisor, is_boutique_wide=is_boutique_wide, boutique=boutique)
    return [_at_risk(prediction, window.today) for prediction in clients_at_risk(clients=clients, limit=AT_RISK_LIMIT)]


def day_appointments(
    *, user: Any, advisor: Advisor | None, window: DayWindow, is_boutique_wide: bool = False, boutique: Boutique
) -> QuerySet[Appointment]:
    """Today's appointments still booked (not cancelled, no outcome yet), earliest first: those the advisor will
    see, or, boutique-wide, every advisor's at the boutique. One query."""
    appointments = Appointment.objects.visible_to(user).filter(
        status=Appointment.Status.BOOKED, boutique=boutique, customer__is_anonymized=False,
        starts_at__gte=window.start_of_today, starts_at__lt=window.start_of_tomorrow,
    )
    if not is_boutique_wide:
        appointments = appointments.filter(advisor=advisor)
    return appointments.select_related("customer", "advisor__user").order_by("starts_at", "pk")[:APPOINTMENT_LIMIT]


def advisor_day(*, user: Any, now: dt.datetime | None = None) -> AdvisorDay | None:
    """The landing day of an advisor (their client book) or of a boutique manager (their boutique), or None for
    staff whose landing page is another (head office and superusers: the house; staff without an advisor role)."""
    advisor = day_advisor(user=user)
    if advisor is None:
        return None
    return _day(user=user, boutique=advisor.boutique, advisor=advisor,
                is_boutique_wide=advisor.role == Advisor.Role.BOUTIQUE_MANAGER, now=now)


def _day(*, user: Any, boutique: Boutique, advisor: Advisor | None, is_boutique_wide: bool,
         now: dt.datetime | None) -> AdvisorDay:
    window = DayWindow.for_boutique(time_zone=boutique.timezone, now=now or timezone.now())
    scope = {
        "user": user,
        "advisor": advisor,
        "window": window,
        "is_boutique_wide": is_boutique_wide,
        "boutique": boutique,
    }
    birthdays = [
        Birthday(customer=customer, day=window.week[customer.birthday_position]) for customer in day_birthdays(**scope)
    ]
    return AdvisorDay(
        boutique=boutique,
        advisor=advisor,
        is_boutique_wide=is_boutique_wide,
        today=window.today,
        week=window.week,
        tasks=list(day_tasks(**scope)),
        birthdays=birthdays,
        quiet_top_clients=list(day_quiet_top_clients(**scope)),
        recent_feedback=list(day_recent_feedback(**scope)),
        recovery_cases=list(day_recovery_cases(**scope)),
        clients_at_risk=day_clients_at_risk(**scope),
        appointments=list(day_appointments(**scope)),
    )


def _is_manager_of(user: Any, boutique_id: int) -> bool:
    return Advisor.objects.filter(user=user, is_active=True, role=Advisor.Role.BOUTIQUE_MANAGER,
                                  boutique_id=boutique_id).exists()


def day_of_advisor(*, user: Any, advisor_id: int, now: dt.datetime | None = None) -> AdvisorDay | None:
    """The day of one advisor (or manager) as `user` may open it: their own, one of their boutique's for its
    manager, any for head office and superusers. None when it is out of `user`'s reach or no such day exists, so
    the page answers 404 and does not tell whether the advisor exists."""
    advisor = (Advisor.objects.visible_to(user).select_related("boutique", "user")
               .filter(pk=advisor_id, is_active=True, role__in=DAY_ROLES, boutique__isnull=False).first())
    if advisor is None:
        return None
    if advisor.user_id != user.pk and visible_boutique_ids(user) is not None \
            and not _is_manager_of(user, advisor.boutique_id):
        return None
    return _day(user=user, boutique=advisor.boutique, advisor=advisor, is_boutique_wide=False, now=now)


def day_of_boutique(*, user: Any, boutique_id: int, now: dt.datetime | None = None) -> AdvisorDay | None:
    """The whole boutique's day, for its manager, head office and superusers; None otherwise (a 404)."""
    boutique = Boutique.objects.visible_to(user).filter(pk=boutique_id).first()
    if boutique is None:
        return None
    manager = Advisor.objects.filter(user=user, is_active=True, role=Advisor.Role.BOUTIQUE_MANAGER,
                                     boutique=boutique).select_related("boutique").first()
    if manager is None and visible_boutique_ids(user) is not None:
        return None
    return _day(user=user, boutique=boutique, advisor=manager, is_boutique_wide=True, now=now)


def day_task_for_action(*, user: Any, followup_id: int) -> FollowUp | None:
    """A task of the day that `user` may close or snooze: one they see on their day (theirs, or, for a boutique
    manager, any of the boutique's), whatever its status (the service refuses one already closed). None otherwise,
    so another advisor's or another boutique's task is not found."""
    advisor = day_advisor(user=user)
    if advisor is None:
        return None
    tasks = FollowUp.objects.visible_to(user).filter(
        pk=followup_id, channel=FollowUpTemplate.Channel.ADVISOR_TASK, customer__is_anonymized=False
    )
    if advisor.role != Advisor.Role.BOUTIQUE_MANAGER:
        tasks = tasks.filter(advisor=advisor)
    return tasks.select_related("customer").first()
