"""Answering through an invitation's link (the public page /s/<token>/): the score first, the comment then or later,
until the link expires; once answered, the same link changes nothing more."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction

from core.errors import ApplicationError
from feedback.models import Invitation, Response
from feedback.services.responses import response_record, response_score_check

logger = logging.getLogger(__name__)

COMMENT_MAX_LENGTH = 2000


class InvitationClosed(ApplicationError):
    """The link can no longer take an answer: it expired, or the client's personal data was erased."""


def invitation_is_open(*, invitation: Invitation, now: dt.datetime) -> bool:
    """Whether the link still takes an answer (or a comment on one): before it expires, for a client not erased."""
    return now < invitation.expires_at and not invitation.customer.is_anonymized


@dataclass(frozen=True)
class AnswerResult:
    """What an answer through the link did: `recorded` (a new response), `completed` (a comment added to the
    response), or `unchanged` (answered already: a second submission changes nothing)."""

    response: Response
    outcome: str


@transaction.atomic
def invitation_answer(*, invitation: Invitation, score: int | None, comment: str, now: dt.datetime) -> AnswerResult:
    """Record the client's answer through their invitation: the score (through response_record, so that it lands
    on the timeline and the journey rules see it), with the comment if given; a comment sent later completes a
    response that has none. A response already complete, or a second score, changes nothing (`unchanged`).

    Refuses a closed link (InvitationClosed), a score off the survey's scale or missing on a first answer, and a
    comment over COMMENT_MAX_LENGTH characters (ApplicationError on the field); nothing is written then.
    """
    invitation = Invitation.objects.select_for_update().select_related("survey", "customer").get(pk=invitation.pk)
    if not invitation_is_open(invitation=invitation, now=now):
        raise InvitationClosed("This survey is closed.")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ApplicationError.for_field("comment", f"Keep the comment under {COMMENT_MAX_LENGTH} characters.")
    response = Response.objects.filter(invitation=invitation).first()
    if response is None:
        if score is None:
            raise ApplicationError.for_field("score", "Choose a score.")
        response_score_check(survey=invitation.survey, score=score)
        response, _created = response_record(survey=invitation.survey, customer=invitation.customer, score=score,
                                             comment=comment, responded_at=now, invitation=invitation)
        return AnswerResult(response, "recorded")
    if comment and not response.comment:
        response.comment = comment
        response.save(update_fields=["comment"])
        logger.info("feedback.response_completed response_id=%s", response.pk)
        return AnswerResult(response, "completed")
    return AnswerResult(response, "unchanged")
