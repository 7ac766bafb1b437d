"""Service recovery: a detractor's answer opens a case for the client's advisor (or the boutique manager when the
client has none), first contact due within RECOVERY_CONTACT_HOURS.

Why a case of feedback's own rather than a journeys follow-up: feedback and journeys may not import each other, and
a hook between them would have to live in a lower app (touchpoints) that knows nothing of detractors. Recovery is
feedback's domain (its SLA, escalation, outcome and root causes are counted with the survey's results), so feedback
writes its own table, and the advisor's day (desk, above both) shows the cases next to the follow-up tasks.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction

from customers.models import Advisor, Customer
from feedback.models import RecoveryCase, Response, Survey

logger = logging.getLogger(__name__)

# The highest score that is a detractor's, per kind of survey (custom surveys have no such class).
DETRACTOR_MAX_SCORE = {Survey.Kind.NPS: 6, Survey.Kind.CSAT: 2}


def is_detractor(*, survey: Survey, score: int) -> bool:
    """Whether an answer is a detractor's: NPS 0-6, CSAT 1-2; never for a custom survey."""
    highest = DETRACTOR_MAX_SCORE.get(survey.kind)
    return highest is not None and score <= highest


def _assignees(customers: list[Customer]) -> dict[int, int | None]:
    """Who is to call each client: their advisor if active, else their boutique's first active manager."""
    advisors = {advisor.pk: advisor for advisor in Advisor.objects.filter(
        pk__in={customer.advisor_id for customer in customers if customer.advisor_id}, is_active=True)}
    managers: dict[int, int] = {}
    for advisor in Advisor.objects.filter(
        role=Advisor.Role.BOUTIQUE_MANAGER, is_active=True,
        boutique_id__in={customer.home_boutique_id for customer in customers if customer.home_boutique_id},
    ).order_by("boutique_id", "pk"):
        managers.setdefault(advisor.boutique_id, advisor.pk)
    return {
        customer.pk: customer.advisor_id if customer.advisor_id in advisors else managers.get(customer.home_boutique_id)
        for customer in customers
    }


@transaction.atomic
def recovery_cases_open_many(*, responses: list[Response]) -> int:
    """Open a recovery case for each detractor's answer among `responses` (is_detractor), assigned to the client's
    advisor or boutique manager, first contact due RECOVERY_CONTACT_HOURS after the answer. Once per response (a
    one-to-one), so a replay opens nothing more; other answers open nothing. Returns how many were opened.
    Four statements whatever the batch: the cases already open, the clients' advisors, the boutiques' managers, one
    INSERT."""
    detractors = [response for response in responses
                  if is_detractor(survey=response.survey, score=response.score) and not response.customer.is_anonymized]
    if detractors:
        opened = set(RecoveryCase.objects.filter(response__in=detractors).values_list("response_id", flat=True))
        detractors = [response for response in detractors if response.pk not in opened]
    if not detractors:
        return 0
    assignees = _assignees([response.customer for response in detractors])
    sla = dt.timedelta(hours=settings.RECOVERY_CONTACT_HOURS)
    # A concurrent replay of the same response is kept out by the one-to-one.
    RecoveryCase.objects.bulk_create([
        RecoveryCase(response=response, customer=response.customer, advisor_id=assignees[response.customer_id],
                     contact_due_at=response.responded_at + sla)
        for response in detractors
    ], ignore_conflicts=True)
    logger.info("feedback.recovery_cases_opened count=%s", len(detractors))
    return len(detractors)
