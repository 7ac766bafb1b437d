"""Answers that arrive from outside tools (Typeform, a Delighted-style tool, a kiosk through the API): an upsert by
the tool's own response id, so that `survey_response.created` and then `survey_response.updated` (carrying the
comment) are one answer, never two.

The first arrival goes through response_record, so that the answer lands on the timeline, the journey rules see it
and a detractor opens a recovery case, exactly as an answer on the public page does. A later version completes it:
a comment, more answers, a changed score (with its NPS class; a score that turns detractor opens the recovery case
then). The timeline's `survey_answered` touchpoint keeps the first score: it is what the journey rules acted on.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.errors import ApplicationError
from core.parsing import json_holds_nul
from customers.models import Customer
from feedback.models import Response, Survey
from feedback.services.answers import COMMENT_MAX_LENGTH
from feedback.services.recovery import recovery_cases_open_many
from feedback.services.responses import response_record, response_score_check

logger = logging.getLogger(__name__)

EXTERNAL_ID_MAX_LENGTH = Response._meta.get_field("external_id").max_length


class ResponseOutcome:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ResponseUpsertResult:
    """The answer as it now stands, and what this call did to it (ResponseOutcome)."""

    response: Response
    outcome: str
    changed_fields: tuple[str, ...] = ()


def _clean_comment(comment: str | None) -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ApplicationError.for_field("comment", f"Keep the comment under {COMMENT_MAX_LENGTH} characters.")
    if "\x00" in comment:
        raise ApplicationError.for_field("comment", "The comment cannot hold the NUL character.")
    return comment


@transaction.atomic
def response_upsert(
    *,
    survey: Survey,
    customer: Customer,
    source: str,
    external_id: str,
    score: int,
    responded_at: dt.datetime,
    comment: str | None = None,
    answers: dict[str, Any] | None = None,
) -> ResponseUpsertResult:
    """Record an outside tool's answer once per (source, external_id), or bring the one recorded up to date.

    A blank comment or missing answers never erase what is known; the survey and the client of an answer already
    recorded stay as they are (an answer is the client's: a later version naming someone else is refused). Refuses
    an unknown source, a blank id, a score off the survey's scale, an erased client, and an over-long comment
    (ApplicationError on the field); nothing is written then.
    """
    if source not in Response.Source.values:
        raise ApplicationError.for_field("source", f"Unknown source {source!r}.")
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > EXTERNAL_ID_MAX_LENGTH or not external_id.isprintable():
        raise ApplicationError.for_field(
            "external_id", f"Give the tool's response id: 1 to {EXTERNAL_ID_MAX_LENGTH} printable characters."
        )
    comment = _clean_comment(comment)
    if answers is not None and (not isinstance(answers, dict) or json_holds_nul(answers)):
        raise ApplicationError.for_field("answers", "Give the answers as an object, without the NUL character.")
    nps_class = response_score_check(survey=survey, score=score)
    if customer.is_anonymized:
        raise ApplicationError.for_field("customer", "This client's personal data was erased: no answer is kept.")

    existing = Response.objects.select_for_update().filter(source=source, external_id=external_id).first()
    if existing is None:
        response, created = response_record(
            survey=survey, customer=customer, score=score, comment=comment, answers=answers,
            responded_at=responded_at, source=source, external_id=external_id,
        )
        if created:
            return ResponseUpsertResult(response, ResponseOutcome.CREATED)
        # A concurrent delivery of the same answer recorded it first: this one completes it.
        existing = Response.objects.select_for_update().get(pk=response.pk)
    return _complete(existing, customer=customer, score=score, nps_class=nps_class, comment=comment, answers=answers)


def _complete(response: Response, *, customer: Customer, score: int, nps_class: str, comment: str,
              answers: dict[str, Any] | None) -> ResponseUpsertResult:
    if response.customer_id != customer.pk:
        raise ApplicationError.for_field(
            "customer", f"The response {response.external_id} was recorded for another client.",
        )
    changed: list[str] = []
    if score != response.score:
        response.score, response.nps_class = score, nps_class
        changed += ["score", "nps_class"]
    if comment and comment != response.comment:
        response.comment = comment
        changed.append("comment")
    if answers:
        merged = {**response.answers, **answers}
        if merged != response.answers:
            response.answers = merged
            changed.append("answers")
    if not changed:
        return ResponseUpsertResult(response, ResponseOutcome.UNCHANGED)
    response.save(update_fields=changed)
    if "score" in changed:
        # Once per response (a one-to-one): a score that turns detractor opens the case now, a second change none.
        recovery_cases_open_many(responses=[response])
    logger.info("feedback.response_updated response_id=%s fields=%s", response.pk, ",".join(changed))
    return ResponseUpsertResult(response, ResponseOutcome.UPDATED, tuple(changed))
