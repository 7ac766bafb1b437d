"""Writes to feedback about answers: recording a client's answer (and putting it on their timeline), and feedback's
part of client merges."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from core.moments import happened_at_check
from customers.models import Customer, SourceSystem
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, Survey, SurveyMessage
from feedback.services.recovery import recovery_cases_open_many
from feedback.services.referrals import referral_asks_schedule_many
from touchpoints.services import interaction_record

logger = logging.getLogger(__name__)

# The scale of each kind of survey (custom surveys score on NPS's 0-10, the most the model allows).
SCORE_SCALES = {Survey.Kind.NPS: (0, 10), Survey.Kind.CSAT: (1, 5), Survey.Kind.CUSTOM: (0, 10)}


def response_score_check(*, survey: Survey, score: int) -> str:
    """Refuse a score off the survey's scale (ApplicationError on `score`); return the response's NPS class
    (promoter 9-10, passive 7-8, detractor 0-6), blank for a survey that is not NPS."""
    lowest, highest = SCORE_SCALES[survey.kind]
    if not lowest <= score <= highest:
        raise ApplicationError.for_field(
            "score", f"{score} is off the scale of the survey {survey.name}, which scores from {lowest} to {highest}."
        )
    if survey.kind != Survey.Kind.NPS:
        return ""
    if score >= 9:
        return Response.NpsClass.PROMOTER
    return Response.NpsClass.PASSIVE if score >= 7 else Response.NpsClass.DETRACTOR


def move_feedback(*, surviving: Customer, merged: Customer) -> dict[str, int]:
    """Feedback's part of a client merge: invitations, responses, recovery cases and their steps, reminders and
    referral asks follow the client (the last two named only when there were some)."""
    moved = {
        "survey_invitations": Invitation.objects.filter(customer=merged).update(customer=surviving),
        "survey_responses": Response.objects.filter(customer=merged).update(customer=surviving),
        "recovery_cases": RecoveryCase.objects.filter(customer=merged).update(customer=surviving),
    }
    for key, model in (("recovery_events", RecoveryEvent), ("survey_messages", SurveyMessage)):
        if count := model.objects.filter(customer=merged).update(customer=surviving):
            moved[key] = count
    return moved


@transaction.atomic
def response_record(
    *,
    survey: Survey,
    customer: Customer,
    score: int,
    responded_at: dt.datetime,
    comment: str = "",
    answers: dict[str, Any] | None = None,
    invitation: Invitation | None = None,
    source: str = SourceSystem.ATELIER,
    external_id: str = "",
) -> tuple[Response, bool]:
    """Record a client's answer to a survey and put it on their timeline as a `survey_answered` touchpoint, so that
    what follows an answer follows it whatever brought it in (the journey rules: a 9–10 NPS moves the client to
    advocacy). The touchpoint carries the survey and, for NPS, `score`; other scales carry `rating`.

    A detractor's answer opens a service-recovery case (feedback.services.recovery); a promoter's schedules the
    survey's referral ask (feedback.services.referrals).

    Once per answer: the same (source, external id), or a second answer to one invitation, returns the response
    already recorded (created=False) and changes nothing.
    """
    nps_class = response_score_check(survey=survey, score=score)
    happened_at_check(responded_at, field="responded_at")
    if invitation is not None and invitation.customer_id != customer.pk:
        raise ApplicationError.for_field("invitation", "The invitation was sent to another client.")
    external_id = (external_id or "").strip()
    existing = None
    if external_id:
        existing = Response.objects.filter(source=source, external_id=external_id).first()
    elif invitation is not None:
        existing = Response.objects.filter(invitation=invitation).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            response = Response.objects.create(
                survey=survey, customer=customer, invitation=invitation, score=score, comment=comment,
                answers=answers or {}, nps_class=nps_class, responded_at=responded_at, source=source,
                external_id=external_id,
            )
    except IntegrityError:
        # The same answer arrived twice at once (a double submit, a replayed import): the first one stands.
        if external_id:
            return Response.objects.get(source=source, external_id=external_id), False
        return Response.objects.get(invitation=invitation), False
    if invitation is not None and invitation.answered_at is None:
        invitation.answered_at = responded_at
        invitation.save(update_fields=["answered_at", "updated_at"])
    scale = {"score": score, "nps_class": nps_class} if survey.kind == Survey.Kind.NPS else {"rating": score}
    interaction_record(
        customer=customer, touchpoint_type="survey_answered", occurred_at=responded_at, source=SourceSystem.ATELIER,
        external_id=f"survey-response:{response.pk}",
        metadata={"survey": survey.name, "survey_kind": survey.kind, **scale},
    )
    # What a detractor's answer must be followed by, whatever brought it in (the page, a webhook, the API).
    recovery_cases_open_many(responses=[response])
    # A promoter's answer is followed by the survey's referral ask (feedback.services.referrals).
    referral_asks_schedule_many(responses=[response])
    logger.info("feedback.response_recorded response_id=%s survey_id=%s", response.pk, survey.pk)
    return response, True
