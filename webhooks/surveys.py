"""Answers from outside survey tools: Typeform's `form_response` (POST /webhooks/typeform/) and Delighted-style
`survey_response.created` / `survey_response.updated` events signed with Standard Webhooks (POST /webhooks/surveys/).

Each body is mapped here (no rule of feedback's: the answer is upserted by feedback.services.response_upsert, once
per tool and response id) onto:
- the survey: named by a hidden field or person property `survey` (an Atelier survey's id or name), else, for
  Typeform, the survey named as the form's title;
- the client, through the golden record (customers.services.customer_find): Atelier's id (`atelier_id`), an
  identity (`pos_id`, `ecommerce_id`, `crm_id`), then the email, then the phone. A client found nowhere is a
  failed delivery (`unknown_client`) that head office replays once the client is imported or merged. An answer
  never creates a client: a survey tool's respondent is not proof of a person.

What the bodies look like: tests/webhooks/samples/typeform_form_response.json and survey_response_created.json.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from core.errors import ApplicationError
from core.moments import happened_at_check
from customers.models import SourceSystem
from customers.services import customer_find
from feedback.models import Response
from feedback.selectors import survey_named
from feedback.services import ResponseOutcome, response_upsert
from webhooks.handling import Handled, Handler, newer_version_applied, stale
from webhooks.mapping import MappingError, moment, text
from webhooks.models import Provider, WebhookDelivery

Outcome = WebhookDelivery.Outcome

SURVEY_PROVIDERS = frozenset({Provider.TYPEFORM, Provider.SURVEYS})
TYPEFORM_TOPIC = "form_response"
SURVEY_RESPONSE_TOPICS = frozenset({"survey_response.created", "survey_response.updated"})
# The answer types that carry a score (Typeform's NPS, opinion scale and rating questions).
TYPEFORM_SCORE_FIELDS = ("nps", "opinion_scale", "rating")
# Hidden fields and person properties that name the client in another system, by Atelier's source systems.
IDENTITY_KEYS = {f"{system}_id": system for system in SourceSystem.values if system != SourceSystem.ATELIER}
RESPONSE_SOURCES = {Provider.TYPEFORM: Response.Source.TYPEFORM, Provider.SURVEYS: Response.Source.SURVEY_TOOL}


class ClientNotFound(ApplicationError):
    """No client answers to what the body says of them (yet): recorded as `unknown_client`, replayable."""

    error_code = WebhookDelivery.ErrorCode.UNKNOWN_CLIENT


@dataclass
class Respondent:
    """Who answered, as the tool knows them; any part may be blank."""

    atelier_id: str = ""
    identities: dict[str, str] = field(default_factory=dict)
    email: str = ""
    phone: str = ""

    def describe(self) -> str:
        parts = [f"Atelier id {self.atelier_id}"] if self.atelier_id else []
        parts += [f"{system} id {external_id}" for system, external_id in self.identities.items()]
        parts += [part for part in (self.email, self.phone) if part]
        return ", ".join(parts)


@dataclass
class AnswerData:
    """One answer as a tool sent it: its id there, the survey it names, the score, and what came with it."""

    external_id: str
    survey_reference: str
    score: int
    responded_at: dt.datetime
    respondent: Respondent
    comment: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    # The tool's updated_at of this version: an older version arriving late changes nothing.
    version: dt.datetime | None = None


# --- readers -------------------------------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _score(value: Any, *, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise MappingError.for_field(where, "The answer has no score.")
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        raise MappingError.for_field(where, f"{value!r} is not a score.") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise MappingError.for_field(where, f"{value!r} is not a whole score.")
    return int(number)


def _unix_or_iso(value: Any, *, where: str) -> dt.datetime:
    """Delighted sends Unix seconds; the Standard Webhooks payloads ISO 8601 with an offset."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            parsed = dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise MappingError.for_field(where, f"{value!r} is not a time.") from None
        try:
            return happened_at_check(parsed, field=where)
        except ApplicationError as error:
            raise MappingError.for_field(where, f"{where}: {error.message}") from None
    return moment(value, where=where)


def _respondent(properties: dict[str, Any], *, email: Any = "", phone: Any = "") -> Respondent:
    return Respondent(
        atelier_id=text(properties.get("atelier_id")),
        identities={system: text(properties[key]) for key, system in IDENTITY_KEYS.items()
                    if text(properties.get(key))},
        email=text(properties.get("email")) or text(email),
        phone=text(properties.get("phone")) or text(phone),
    )


def _answer_value(answer: dict[str, Any]) -> Any:
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice":
        return text(_dict(value).get("label")) or text(_dict(value).get("other"))
    if kind == "choices":
        return [text(label) for label in _list(_dict(value).get("labels"))]
    return value if isinstance(value, str | int | float | bool) else None


# --- Typeform ------------------------------------------------------------------------------------------------


def typeform_answer(payload: dict[str, Any]) -> AnswerData:
    """A Typeform `form_response`: the response's token is its id; the first NPS, opinion-scale or rating answer is
    the score, the first long-text answer the comment; every answer is kept under its field's ref."""
    form = _dict(payload.get("form_response"))
    token = text(form.get("token"))
    if not token:
        raise MappingError.for_field("form_response.token", "The response has no token.")
    hidden = _dict(form.get("hidden"))
    score, comment, answers = None, "", {}
    email, phone = "", ""
    for number, answer in enumerate(_list(form.get("answers")), start=1):
        answer = _dict(answer)
        question = _dict(answer.get("field"))
        kind = text(question.get("type"))
        value = _answer_value(answer)
        key = text(question.get("ref")) or text(question.get("id")) or f"answer-{number}"
        if value is not None:
            answers[key[:80]] = value
        if score is None and kind in TYPEFORM_SCORE_FIELDS:
            score = _score(answer.get("number"), where=f"form_response.answers[{number}].number")
        elif not comment and kind == "long_text" and isinstance(value, str):
            comment = value.strip()
        elif answer.get("type") == "email" and not email:
            email = text(value)
        elif answer.get("type") == "phone_number" and not phone:
            phone = text(value)
    if score is None:
        raise MappingError.for_field(
            "form_response.answers", "The response holds no score (an NPS, opinion scale or rating question)."
        )
    submitted_at = moment(form.get("submitted_at"), where="form_response.submitted_at")
    return AnswerData(
        external_id=token,
        survey_reference=text(hidden.get("survey")) or text(_dict(form.get("definition")).get("title")),
        score=score,
        responded_at=submitted_at,
        respondent=_respondent(hidden, email=email, phone=phone),
        comment=comment,
        answers=answers,
        version=submitted_at,
    )


# --- Delighted-style events (Standard Webhooks) --------------------------------------------------------------


def survey_response_answer(payload: dict[str, Any]) -> AnswerData:
    """`survey_response.created` / `.updated`, in Delighted's envelope (`event_data`) or the Standard Webhooks one
    (`data`): the response's id, score, comment, person and person properties; `updated` carries the comment."""
    data = _dict(payload.get("event_data")) or _dict(payload.get("data"))
    external_id = text(data.get("id"))
    if not external_id:
        raise MappingError.for_field("event_data.id", "The response has no id.")
    person = _dict(data.get("person"))
    properties = _dict(data.get("person_properties"))
    answers = {}
    for number, extra in enumerate(_list(data.get("additional_answers")), start=1):
        extra = _dict(extra)
        key = text(_dict(extra.get("question")).get("id")) or text(extra.get("id")) or f"answer-{number}"
        # Delighted names the value by the question's kind ({"scale": 3, "free_response": null, ...}).
        value = next((item for item in _dict(extra.get("value")).values() if item not in (None, "", [])), None)
        answers[key[:80]] = text(value.get("text")) if isinstance(value, dict) else value
    responded_at = _unix_or_iso(data.get("created_at"), where="event_data.created_at")
    updated_at = data.get("updated_at")
    return AnswerData(
        external_id=external_id,
        survey_reference=text(data.get("survey")) or text(properties.get("survey")),
        score=_score(data.get("score"), where="event_data.score"),
        responded_at=responded_at,
        respondent=_respondent(properties, email=person.get("email"), phone=person.get("phone_number")),
        comment=data.get("comment").strip() if isinstance(data.get("comment"), str) else "",
        answers={key: value for key, value in answers.items() if value is not None},
        version=_unix_or_iso(updated_at, where="event_data.updated_at") if updated_at else responded_at,
    )


# --- handling ------------------------------------------------------------------------------------------------


def handler_for(provider: str, topic: str) -> Handler | None:
    """The function that handles a survey tool's topic, or None for one Atelier ignores."""
    if provider == Provider.TYPEFORM and topic == TYPEFORM_TOPIC:
        return lambda payload: answer_sync(answer=typeform_answer(payload), provider=provider)
    if provider == Provider.SURVEYS and topic in SURVEY_RESPONSE_TOPICS:
        return lambda payload: answer_sync(answer=survey_response_answer(payload), provider=provider)
    return None


def _client(respondent: Respondent):
    try:
        customer = customer_find(public_id=respondent.atelier_id or None, identities=respondent.identities,
                                 email=respondent.email or None, phone=respondent.phone or None)
    except ApplicationError as error:
        raise ClientNotFound(f"{error.message} ({respondent.describe()})", extra=error.extra) from None
    if customer is None:
        described = respondent.describe()
        if not described:
            raise ClientNotFound("The answer names no client (no atelier_id, identity, email or phone).")
        raise ClientNotFound(f"No client answers to {described}; import or merge the client, then replay.")
    return customer


@transaction.atomic
def answer_sync(*, answer: AnswerData, provider: str) -> Handled:
    """A survey tool's answer: the survey and the client it names, then the answer upserted by its id (created,
    then updated with the comment: one answer). A version older than one already applied is ignored."""
    subject = f"response:{answer.external_id}"[:120]
    if newer := newer_version_applied(provider=provider, subject=subject, version=answer.version):
        return stale(subject, answer.version, newer)
    survey = survey_named(reference=answer.survey_reference)
    if survey is None:
        raise MappingError.for_field(
            "survey", f"No Atelier survey is named {answer.survey_reference!r}: give the hidden field or property "
            "`survey` (a survey's id or name), or name the survey as the form, then replay.",
        )
    customer = _client(answer.respondent)
    result = response_upsert(
        survey=survey, customer=customer, source=RESPONSE_SOURCES[provider], external_id=answer.external_id,
        score=answer.score, responded_at=answer.responded_at, comment=answer.comment, answers=answer.answers,
    )
    what = {ResponseOutcome.CREATED: "recorded", ResponseOutcome.UPDATED: "updated"}.get(result.outcome, "unchanged")
    return Handled(
        Outcome.PROCESSED, f"Answer {answer.external_id} {what} (score {result.response.score}) for client "
        f"{customer.pk}.", subject, answer.version,
    )
