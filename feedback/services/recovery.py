"""Service recovery: a detractor's answer opens a case for the client's advisor (or the boutique manager when the
client has none), first contact due within RECOVERY_CONTACT_HOURS of the boutique's opening hours
(BOUTIQUE_OPENING_HOURS on BOUTIQUE_OPENING_DAYS, on the boutique's clock). A case not contacted by then is
escalated to the boutique manager by beat (recovery_cases_escalate_due); it is closed with an outcome and a root
cause from head office's list (RootCause). Each step is a RecoveryEvent on the client's timeline.

Why a case of feedback's own rather than a journeys follow-up: feedback and journeys may not import each other, and
a hook between them would have to live in a lower app (touchpoints) that knows nothing of detractors. Recovery is
feedback's domain (its SLA, escalation, outcome and root causes are counted with the survey's results), so feedback
writes its own table, and the advisor's day (desk, above both) shows the cases next to the follow-up tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Advisor, Customer
from customers.scoping import require_reach
from feedback.models import RecoveryCase, RecoveryEvent, Response, RootCause, Survey

logger = logging.getLogger(__name__)

# The highest score that is a detractor's, per kind of survey (custom surveys have no such class).
DETRACTOR_MAX_SCORE = {Survey.Kind.NPS: 6, Survey.Kind.CSAT: 2}


def is_detractor(*, survey: Survey, score: int) -> bool:
    """Whether an answer is a detractor's: NPS 0-6, CSAT 1-2; never for a custom survey."""
    highest = DETRACTOR_MAX_SCORE.get(survey.kind)
    return highest is not None and score <= highest


def _opening_hours() -> tuple[dt.time, dt.time]:
    opens, closes = settings.BOUTIQUE_OPENING_HOURS.split("-")
    return dt.time.fromisoformat(opens), dt.time.fromisoformat(closes)


def opening_hours_after(start: dt.datetime, *, hours: float, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The moment `hours` of opening hours after `start`, on the boutique's clock (an answer given at night starts
    counting when the boutique opens). Opening hours and days: BOUTIQUE_OPENING_HOURS, BOUTIQUE_OPENING_DAYS."""
    opens, closes = _opening_hours()
    days = set(settings.BOUTIQUE_OPENING_DAYS)
    left = dt.timedelta(hours=hours)
    local = start.astimezone(zone)
    day = local.date()
    while True:
        if day.isoweekday() in days:
            window_start = max(local, dt.datetime.combine(day, opens, tzinfo=zone))
            window_end = dt.datetime.combine(day, closes, tzinfo=zone)
            if window_start < window_end:
                if window_start + left <= window_end:
                    return (window_start + left).astimezone(dt.UTC)
                left -= window_end - window_start
        day += dt.timedelta(days=1)


def _zone(customer: Customer) -> zoneinfo.ZoneInfo:
    boutique = customer.home_boutique
    return zoneinfo.ZoneInfo(boutique.timezone if boutique is not None else settings.TIME_ZONE)


def _managers(boutique_ids: set[int]) -> dict[int, int]:
    """Each boutique's first active manager."""
    managers: dict[int, int] = {}
    for advisor in Advisor.objects.filter(
        role=Advisor.Role.BOUTIQUE_MANAGER, is_active=True, boutique_id__in=boutique_ids
    ).order_by("boutique_id", "pk"):
        managers.setdefault(advisor.boutique_id, advisor.pk)
    return managers


def _assignees(customers: list[Customer]) -> dict[int, int | None]:
    """Who is to call each client: their advisor if active, else their boutique's first active manager."""
    advisors = {advisor.pk: advisor for advisor in Advisor.objects.filter(
        pk__in={customer.advisor_id for customer in customers if customer.advisor_id}, is_active=True)}
    managers = _managers({customer.home_boutique_id for customer in customers if customer.home_boutique_id})
    return {
        customer.pk: customer.advisor_id if customer.advisor_id in advisors else managers.get(customer.home_boutique_id)
        for customer in customers
    }


@transaction.atomic
def recovery_cases_open_many(*, responses: list[Response]) -> int:
    """Open a recovery case for each detractor's answer among `responses` (is_detractor), assigned to the client's
    advisor or boutique manager, first contact due RECOVERY_CONTACT_HOURS after the answer. Once per response (a
    one-to-one), so a replay opens nothing more; other answers open nothing. Returns how many were opened.
    Six statements whatever the batch: the cases already open, the clients' advisors, the boutiques' managers, the
    INSERT of the cases, their read back, the INSERT of their `opened` steps."""
    detractors = [response for response in responses
                  if is_detractor(survey=response.survey, score=response.score) and not response.customer.is_anonymized]
    if detractors:
        opened = set(RecoveryCase.objects.filter(response__in=detractors).values_list("response_id", flat=True))
        detractors = [response for response in detractors if response.pk not in opened]
    if not detractors:
        return 0
    assignees = _assignees([response.customer for response in detractors])
    hours = settings.RECOVERY_CONTACT_HOURS
    # A concurrent replay of the same response is kept out by the one-to-one.
    RecoveryCase.objects.bulk_create([
        RecoveryCase(response=response, customer=response.customer, advisor_id=assignees[response.customer_id],
                     contact_due_at=opening_hours_after(response.responded_at, hours=hours,
                                                        zone=_zone(response.customer)))
        for response in detractors
    ], ignore_conflicts=True)
    RecoveryEvent.objects.bulk_create([
        RecoveryEvent(case=case, customer=case.customer, kind=RecoveryEvent.Kind.OPENED,
                      occurred_at=case.response.responded_at, advisor_id=case.advisor_id,
                      note=f"Score {case.response.score}: first contact due by "
                           f"{case.contact_due_at.isoformat(timespec='minutes')}.")
        # The cases as stored (an ignored conflict sets no id); a replay's `opened` step is one already (unique).
        for case in RecoveryCase.objects.filter(response__in=detractors).select_related("response", "customer")
    ], ignore_conflicts=True)
    logger.info("feedback.recovery_cases_opened count=%s", len(detractors))
    return len(detractors)


def _case_locked(case: RecoveryCase) -> RecoveryCase:
    return RecoveryCase.objects.select_for_update(of=("self",)).select_related("customer").get(pk=case.pk)


@transaction.atomic
def recovery_case_contact(*, case: RecoveryCase, actor: AbstractBaseUser | None, contacted_at: dt.datetime,
                          note: str = "") -> RecoveryCase:
    """Record the first contact with the client (a call, a meeting): the SLA is met if it is by contact_due_at.
    Refuses a case that is closed or cancelled, and a contact in the future."""
    case = _case_locked(case)
    require_reach(actor, [case.customer.home_boutique_id])
    if case.status not in (RecoveryCase.Status.OPEN, RecoveryCase.Status.CONTACTED):
        raise ApplicationError(f"This case is {case.get_status_display().lower()}: nothing more to record.")
    if contacted_at > timezone.now() + dt.timedelta(minutes=5):
        raise ApplicationError.for_field("contacted_at", "The contact cannot be in the future.")
    if case.contacted_at is None:
        case.status, case.contacted_at = RecoveryCase.Status.CONTACTED, contacted_at
        case.save(update_fields=["status", "contacted_at", "updated_at"])
    RecoveryEvent.objects.create(case=case, customer=case.customer, kind=RecoveryEvent.Kind.CONTACTED,
                                 occurred_at=contacted_at, actor=actor, advisor_id=case.advisor_id,
                                 note=(note or "").strip())
    logger.info("feedback.recovery_case_contacted case_id=%s", case.pk)
    return case


@transaction.atomic
def recovery_case_close(*, case: RecoveryCase, actor: AbstractBaseUser | None, outcome: str,
                        root_cause: RootCause | None, closed_at: dt.datetime, note: str = "") -> RecoveryCase:
    """Close a case with its outcome and its root cause (from head office's list, RootCause). Both are required;
    a case already closed or cancelled is refused."""
    case = _case_locked(case)
    require_reach(actor, [case.customer.home_boutique_id])
    if case.status in (RecoveryCase.Status.RESOLVED, RecoveryCase.Status.CANCELLED):
        raise ApplicationError(f"This case is {case.get_status_display().lower()} already.")
    if outcome not in RecoveryCase.Outcome.values:
        raise ApplicationError.for_field("outcome", "Choose the outcome: " + ", ".join(RecoveryCase.Outcome.values))
    if root_cause is None or not root_cause.is_active:
        raise ApplicationError.for_field("root_cause", "Choose the root cause from head office's list.")
    case.status, case.outcome, case.root_cause, case.closed_at = (RecoveryCase.Status.RESOLVED, outcome, root_cause,
                                                                 closed_at)
    case.save(update_fields=["status", "outcome", "root_cause", "closed_at", "updated_at"])
    RecoveryEvent.objects.create(
        case=case, customer=case.customer, kind=RecoveryEvent.Kind.CLOSED, occurred_at=closed_at, actor=actor,
        advisor_id=case.advisor_id,
        note=f"{RecoveryCase.Outcome(outcome).label}; root cause: {root_cause.name}. {(note or '').strip()}".strip(),
    )
    logger.info("feedback.recovery_case_closed case_id=%s", case.pk)
    return case


@transaction.atomic
def recovery_cases_escalate_due(*, now: dt.datetime) -> int:
    """Escalate to the boutique manager every open case whose first contact is overdue (contact_due_at passed with
    no contact), once: the case shows whom it went to and when, and an `escalated` step is on the client's timeline.
    A case whose boutique has no manager is escalated with nobody named (head office sees it). Returns how many."""
    overdue = list(
        RecoveryCase.objects.select_for_update(skip_locked=True, of=("self",)).select_related("customer")
        .filter(status=RecoveryCase.Status.OPEN, escalated_at__isnull=True, contact_due_at__lt=now)
        .order_by("contact_due_at", "pk")
    )
    if not overdue:
        return 0
    managers = _managers({case.customer.home_boutique_id for case in overdue if case.customer.home_boutique_id})
    for case in overdue:
        case.escalated_at, case.escalated_to_id = now, managers.get(case.customer.home_boutique_id)
    RecoveryCase.objects.bulk_update(overdue, ["escalated_at", "escalated_to", "updated_at"])
    RecoveryEvent.objects.bulk_create([
        RecoveryEvent(case=case, customer=case.customer, kind=RecoveryEvent.Kind.ESCALATED, occurred_at=now,
                      advisor_id=case.escalated_to_id,
                      note=f"No contact by {case.contact_due_at.isoformat(timespec='minutes')}: escalated.")
        for case in overdue
    ], ignore_conflicts=True)
    logger.info("feedback.recovery_cases_escalated count=%s", len(overdue))
    return len(overdue)
