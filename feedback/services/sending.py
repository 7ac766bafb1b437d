"""Sending survey messages (the invitation, its reminders, the referral ask) through the follow-up dispatcher.

Feedback does not send anything itself: it registers two outboxes (touchpoints.outbox; FeedbackConfig.ready), one
for its invitations and one for its later messages (SurveyMessage: reminders, referral asks), and the dispatcher
(journeys.services.dispatch, every minute by beat) claims, sends and records them with the follow-ups' backends,
keys, retries and recovery. What is feedback's own is here:
- which rows are due, and the checks before one goes: the house's contact-pressure policy
  (touchpoints.contact_pressure: erased, consent for the survey's channel and purpose, an address, hands-off, quiet
  hours on the client's clock, the 7-day cap counted with the follow-ups), then the survey's own: an invitation
  whose link would be dead (SURVEY_EXPIRES_DAYS after it was first due) is `expired`, one within
  SURVEY_RECONTACT_DAYS (or the survey's longer value) of another invitation sent is `throttled`; a reminder to a
  client who answered is `answered`, and one after the link expired `expired`. Every one that does not go is kept
  as not_sent with its reason;
- the message: the survey's question in the client's language and one link per score (one tap to the answer page,
  which records nothing on a GET), with the house's unsubscribe link and List-Unsubscribe headers added by the
  dispatcher; the referral ask renders the survey's template over the client's first name;
- what follows a send: the invitation's link expires SURVEY_EXPIRES_DAYS after it was sent, and its reminders are
  scheduled (the survey's reminder_count, every reminder_after_days).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.template import Context, Engine, TemplateSyntaxError
from django.urls import reverse
from django.utils import formats, translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from customers.models import Customer
from feedback.models import Invitation, Response, Survey, SurveyMessage
from feedback.services.invitations import expires_days, recontact_days
from feedback.services.responses import SCORE_SCALES
from touchpoints.contact_pressure import address_for, contact_verdict
from touchpoints.outbox import OutgoingMessage, SendFailure, after_failure, unknown_outcome_reason

logger = logging.getLogger(__name__)

INVITATION_LOG, MESSAGE_LOG = "invitation", "survey_message"

# The contact-pressure policy's codes as the reasons an invitation or message records.
_REASONS = {
    "erased": Invitation.Reason.ERASED, "withdrawn": Invitation.Reason.NO_CONSENT,
    "no_consent": Invitation.Reason.NO_CONSENT, "no_address": Invitation.Reason.NO_ADDRESS,
    "hands_off": Invitation.Reason.HANDS_OFF, "too_late": Invitation.Reason.EXPIRED,
}
_SENT_OR_SENDING = ("sent", "sending")


# --- The frequency cap: feedback's contact logs -------------------------------------------------------------------


def _sent_moments(rows: models.QuerySet, since: dt.datetime) -> list[dt.datetime]:
    return list(
        rows.filter(status__in=_SENT_OR_SENDING).annotate(moment=Coalesce("sent_at", "last_attempt_at"))
        .filter(moment__gt=since).order_by("-moment")
        .values_list("moment", flat=True)[:settings.FOLLOWUP_MAX_PER_7_DAYS]
    )


def invitation_contact_log(customer_id: int, since: dt.datetime,
                           excluding: tuple[str, int] | None) -> list[dt.datetime]:
    """The invitations sent (or being sent) to a client after `since`, for the house's frequency cap."""
    rows = Invitation.objects.filter(customer_id=customer_id)
    if excluding is not None and excluding[0] == INVITATION_LOG:
        rows = rows.exclude(pk=excluding[1])
    return _sent_moments(rows, since)


def message_contact_log(customer_id: int, since: dt.datetime, excluding: tuple[str, int] | None) -> list[dt.datetime]:
    """The reminders and referral asks sent (or being sent) to a client after `since`, for the frequency cap."""
    rows = SurveyMessage.objects.filter(customer_id=customer_id)
    if excluding is not None and excluding[0] == MESSAGE_LOG:
        rows = rows.exclude(pk=excluding[1])
    return _sent_moments(rows, since)


# --- The messages -------------------------------------------------------------------------------------------------


def _language(customer: Customer) -> str:
    try:
        return translation.get_supported_language_variant(customer.language or "")
    except LookupError:
        return settings.LANGUAGE_CODE


def survey_question(survey: Survey, language: str) -> str:
    """The survey's question in `language` (its question_translations), else as written."""
    translations = survey.question_translations if isinstance(survey.question_translations, dict) else {}
    return translations.get(language) or survey.question


def answer_url(invitation: Invitation, score: int | None = None) -> str:
    """The absolute address of the invitation's answer page, with a score chosen (a GET records nothing)."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("survey:answer", kwargs={"token": invitation.token})
    return url if score is None else f"{url}?score={score}"


def invitation_message(*, invitation: Invitation, customer: Customer, expires_at: dt.datetime,
                       is_reminder: bool = False) -> tuple[str, str, str]:
    """(subject, HTML body, text) of an invitation or a reminder: the question, one link per score, the link's end."""
    survey = invitation.survey
    language = _language(customer)
    with translation.override(language):
        question = survey_question(survey, language)
        name = customer.first_name or ""
        greeting = _("Dear %(name)s,") % {"name": name} if name else _("Hello,")
        lead = _("A reminder: we would love to hear from you.") if is_reminder else _("Thank you for your visit.")
        until = formats.date_format(expires_at, "DATE_FORMAT")
        closing = _("Tap a score to answer. This link is yours alone and works until %(date)s.") % {"date": until}
        if invitation.channel == Survey.Channel.SMS:
            text = f"{greeting} {question} {answer_url(invitation)}"
            return "", text, text
        lowest, highest = SCORE_SCALES[survey.kind]
        scores = range(lowest, highest + 1)
        links = " ".join(f'<a href="{escape(answer_url(invitation, score))}">{score}</a>' for score in scores)
        body = (f"<p>{escape(greeting)}</p><p>{escape(lead)}</p><p><strong>{escape(question)}</strong></p>"
                f"<p>{links}</p><p>{escape(closing)}</p>")
        text_links = "\n".join(f"{score}: {answer_url(invitation, score)}" for score in scores)
        text = f"{greeting}\n\n{lead}\n\n{question}\n\n{text_links}\n\n{closing}"
        subject = question if not is_reminder else _("Reminder: %(question)s") % {"question": question}
    return subject[:200], body, text


class _PlainEngine(Engine):
    # No tags, no filters, no loaders: a referral ask names values of its context, nothing more.
    default_builtins: list[str] = []


_ENGINE = _PlainEngine()


def referral_check(*, subject: str, body: str) -> None:
    """Refuse a referral template that is not plain text with {{ client.first_name }} (ApplicationError)."""
    for field, source in (("referral_subject", subject), ("referral_body", body)):
        try:
            _ENGINE.from_string(source)
        except TemplateSyntaxError as error:
            raise ApplicationError.for_field(field, f"The template does not read: {error}") from error


def referral_message(*, survey: Survey, customer: Customer, channel: str) -> tuple[str, str, str]:
    """(subject, HTML body, text) of the survey's referral ask for this client."""
    context = Context({"client": {"first_name": customer.first_name or ""}})
    text = _ENGINE.from_string(survey.referral_body).render(context).strip()
    subject = _ENGINE.from_string(survey.referral_subject).render(context).strip()
    if channel == Survey.Channel.SMS:
        return "", text, text
    body = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in text.split("\n\n") if paragraph.strip())
    return subject[:200], body, text


def _provider_key(kind: str, row: Any) -> str:
    digest = hashlib.sha256(f"atelier-survey-{kind}:{row.pk}:{row.created_at.isoformat()}".encode()).hexdigest()
    return f"survey-{kind}-{row.pk}-{digest[:32]}"


def _message_id(key: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "atelier.example"
    return f"<{key}@{domain}>"


# --- The outboxes -------------------------------------------------------------------------------------------------


class _SurveyOutbox:
    """The protocol of touchpoints.outbox over a feedback table with SendingState: claim one due row, record the
    attempt. Subclasses say which rows are due, what is checked and what is sent."""

    name: str
    model: type[Invitation] | type[SurveyMessage]
    related: tuple[str, ...] = ("survey",)

    # What the subclasses say.
    def _why_not(self, row: Any, customer: Customer, now: dt.datetime) -> tuple[str, str] | dt.datetime | None:
        """(reason, words) when the row will not go; a moment when it is to wait; None when it may go now."""
        raise NotImplementedError

    def _compose(self, row: Any, customer: Customer, now: dt.datetime) -> tuple[str, str, str]:
        raise NotImplementedError

    def _purpose(self, row: Any) -> str:
        return row.survey.purpose

    def _after_sent(self, row: Any, now: dt.datetime) -> list[str]:
        return []

    # The protocol.
    def _policy(self, row: Any, customer: Customer, now: dt.datetime,
                latest: dt.datetime) -> tuple[str, str] | dt.datetime | None:
        verdict = contact_verdict(customer=customer, channel=row.channel, purpose=self._purpose(row), now=now,
                                  latest=latest, excluding=(self.name, row.pk))
        if verdict is None:
            return None
        if verdict.is_postponed:
            row.status_reason = verdict.reason[:300]
            return verdict.until
        return _REASONS[verdict.code], verdict.reason

    @transaction.atomic
    def claim_next(self, *, now: dt.datetime, recovering: bool,
                   busy: set[int]) -> tuple[str, OutgoingMessage | None] | None:
        if recovering:
            due = self.model.objects.filter(
                status="sending", channel=Survey.Channel.SMS,
                last_attempt_at__lt=now - dt.timedelta(seconds=settings.FOLLOWUP_SENDING_LEASE_SECONDS))
        else:
            due = self.model.objects.filter(status="scheduled", due_at__lte=now)
        row = (due.exclude(pk__in=busy).select_for_update(skip_locked=True, of=("self",))
               .select_related(*self.related).order_by("due_at", "pk").first())
        if row is None:
            return None
        customer = (Customer.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
                    .select_related("home_boutique").filter(pk=row.customer_id).first())
        if customer is None:  # another transaction holds the client (a consent change, an erasure): next run
            busy.add(row.pk)
            return "busy", None
        row.first_due_at = row.first_due_at or row.due_at
        verdict = self._why_not(row, customer, now)
        if isinstance(verdict, dt.datetime):
            row.due_at, row.status = verdict, "scheduled"
            row.save(update_fields=["due_at", "first_due_at", "status", "status_reason", "updated_at"])
            return "postponed", None
        if verdict is not None:
            reason, words = verdict
            row.status, row.reason, row.status_reason = "not_sent", reason, words[:300]
            row.save(update_fields=["status", "reason", "status_reason", "first_due_at", "updated_at"])
            logger.info("feedback.%s_not_sent id=%s reason=%s", self.name, row.pk, reason)
            return f"not_sent_{reason}", None
        subject, body, text = self._compose(row, customer, now)
        row.status, row.attempts, row.last_attempt_at = "sending", row.attempts + 1, now
        row.save(update_fields=["status", "attempts", "last_attempt_at", "first_due_at", "updated_at"])
        key = _provider_key(self.name, row)
        return "claimed", OutgoingMessage(
            outbox=self.name, row_id=row.pk, attempt=row.attempts, channel=row.channel,
            recipient=address_for(customer, row.channel), subject=subject, body=body, text=text, provider_key=key,
            message_id=_message_id(key), customer_id=customer.pk, unsubscribe_purpose=self._purpose(row),
        )

    @transaction.atomic
    def record(self, message: OutgoingMessage, *, now: dt.datetime, message_id: str = "",
               failure: SendFailure | None = None) -> str:
        row = (self.model.objects.select_for_update(of=("self",)).select_related(*self.related)
               .filter(pk=message.row_id, status="sending", attempts=message.attempt).first())
        if row is None:  # a worker that outlived its lease: the row was taken over
            logger.warning("feedback.%s_attempt_superseded id=%s", self.name, message.row_id)
            return "superseded"
        if failure is None:
            row.status, row.sent_at, row.provider_message_id, row.status_reason = "sent", now, message_id[:200], ""
            row.save(update_fields=["status", "sent_at", "provider_message_id", "status_reason", "updated_at",
                                    *self._after_sent(row, now)])
            logger.info("feedback.%s_sent id=%s attempt=%s", self.name, row.pk, message.attempt)
            return "sent"
        after = after_failure(failure, attempt=message.attempt, message_id=message.message_id, now=now)
        if after.closed and after.cancelled:
            row.status, row.reason = "not_sent", Invitation.Reason.NO_CONSENT
        elif after.closed:
            row.status = "failed"
        else:
            row.status, row.due_at = "scheduled", after.retry_at
        row.status_reason = after.reason[:300]
        row.save(update_fields=["status", "reason", "due_at", "status_reason", "updated_at"])
        return ("cancelled" if after.cancelled else "failed") if after.closed else "retried"

    @transaction.atomic
    def abandon_stale_emails(self, *, now: dt.datetime) -> int:
        """Emails a dead worker left `sending`: at most once, so failed for review (journeys.services.dispatch)."""
        stale = list(self.model.objects.select_for_update(skip_locked=True).filter(
            status="sending", channel=Survey.Channel.EMAIL,
            last_attempt_at__lt=now - dt.timedelta(seconds=settings.FOLLOWUP_SENDING_LEASE_SECONDS)))
        for row in stale:
            row.status = "failed"
            row.status_reason = unknown_outcome_reason(
                _message_id(_provider_key(self.name, row)),
                "the worker stopped while handing this email to the mail server.")[:300]
            row.save(update_fields=["status", "status_reason", "updated_at"])
        return len(stale)


class InvitationOutbox(_SurveyOutbox):
    """Invitations due to be sent."""

    name = INVITATION_LOG
    model = Invitation
    related = ("survey", "interaction")

    def _why_not(self, row: Invitation, customer: Customer, now: dt.datetime):
        dead_at = row.first_due_at + dt.timedelta(days=expires_days(row.survey))
        if not row.survey.is_active:
            return Invitation.Reason.EXPIRED, "The survey was switched off before the invitation went."
        if now >= dead_at:
            return Invitation.Reason.EXPIRED, f"Not sent by {dead_at.isoformat(timespec='minutes')}: its link expired."
        verdict = self._policy(row, customer, now, latest=dead_at)
        if verdict is not None:
            return verdict
        window = dt.timedelta(days=recontact_days(row.survey))
        recent = (Invitation.objects.filter(customer_id=customer.pk, status__in=_SENT_OR_SENDING)
                  .exclude(pk=row.pk).annotate(moment=Coalesce("sent_at", "last_attempt_at"))
                  .filter(moment__gt=now - window).exists())
        if recent:
            return Invitation.Reason.THROTTLED, f"Another survey went to the client within {window.days} days."
        return None

    def _compose(self, row: Invitation, customer: Customer, now: dt.datetime) -> tuple[str, str, str]:
        return invitation_message(invitation=row, customer=customer,
                                  expires_at=now + dt.timedelta(days=expires_days(row.survey)))

    def _after_sent(self, row: Invitation, now: dt.datetime) -> list[str]:
        # The link lives from the send; the reminders are due every reminder_after_days after it, for as long as
        # the client has not answered (checked when each comes due).
        row.expires_at = now + dt.timedelta(days=expires_days(row.survey))
        survey = row.survey
        SurveyMessage.objects.bulk_create([
            SurveyMessage(kind=SurveyMessage.Kind.REMINDER, number=number, survey=survey, customer_id=row.customer_id,
                          invitation=row, channel=row.channel,
                          due_at=now + dt.timedelta(days=survey.reminder_after_days * number))
            for number in range(1, survey.reminder_count + 1)
        ], ignore_conflicts=True)
        return ["expires_at"]


class SurveyMessageOutbox(_SurveyOutbox):
    """Reminders and referral asks due to be sent."""

    name = MESSAGE_LOG
    model = SurveyMessage
    related = ("survey", "invitation")

    def _purpose(self, row: SurveyMessage) -> str:
        # A referral ask is marketing whatever the survey's purpose: only clients who accept marketing get one.
        return Survey.Purpose.MARKETING if row.kind == SurveyMessage.Kind.REFERRAL else row.survey.purpose

    def _why_not(self, row: SurveyMessage, customer: Customer, now: dt.datetime):
        if row.kind == SurveyMessage.Kind.REMINDER:
            invitation = row.invitation
            if invitation.answered_at is not None or Response.objects.filter(invitation=invitation).exists():
                return SurveyMessage.Reason.ANSWERED, "The client answered: no reminder."
            if now >= invitation.expires_at:
                return SurveyMessage.Reason.EXPIRED, "The survey's link expired before the reminder could go."
            return self._policy(row, customer, now, latest=invitation.expires_at)
        latest = row.first_due_at + dt.timedelta(hours=settings.FOLLOWUP_MAX_LATE_HOURS)
        if now > latest:
            return SurveyMessage.Reason.EXPIRED, f"Over {settings.FOLLOWUP_MAX_LATE_HOURS} h late: not sent."
        return self._policy(row, customer, now, latest=latest)

    def _compose(self, row: SurveyMessage, customer: Customer, now: dt.datetime) -> tuple[str, str, str]:
        if row.kind == SurveyMessage.Kind.REMINDER:
            return invitation_message(invitation=row.invitation, customer=customer,
                                      expires_at=row.invitation.expires_at, is_reminder=True)
        return referral_message(survey=row.survey, customer=customer, channel=row.channel)
