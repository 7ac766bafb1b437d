"""Referral asks: a promoter's answer (NPS 9–10) is followed, 48 hours later, by the survey's referral ask, for
clients with marketing consent (checked when it is sent, by feedback.services.sending). Passives get nothing."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from feedback.models import Response, SurveyMessage

logger = logging.getLogger(__name__)

# A promoter's referral ask goes this long after their answer (and no later than FOLLOWUP_MAX_LATE_HOURS after that).
REFERRAL_DELAY = dt.timedelta(hours=48)


@transaction.atomic
def referral_asks_schedule_many(*, responses: list[Response]) -> int:
    """Schedule the survey's referral ask for each promoter's answer (NPS 9–10) among `responses`, REFERRAL_DELAY
    after it, when the survey has one; marketing consent and the rest of the policy are checked when it comes due.
    Passives and detractors get nothing. Once per response (a unique constraint). Returns how many were scheduled."""
    asks = [
        SurveyMessage(kind=SurveyMessage.Kind.REFERRAL, survey=response.survey, customer_id=response.customer_id,
                      response=response, invitation=response.invitation, channel=response.survey.channel,
                      due_at=response.responded_at + REFERRAL_DELAY)
        for response in responses
        if response.nps_class == Response.NpsClass.PROMOTER and response.survey.referral_body.strip()
        and not response.customer.is_anonymized
    ]
    if not asks:
        return 0
    created = SurveyMessage.objects.bulk_create(asks, ignore_conflicts=True)
    logger.info("feedback.referral_asks_scheduled count=%s", len(created))
    return len(asks)
