"""Sending due follow-ups: consent, quiet hours and the frequency cap at send time; never the same message twice.

How a follow-up is never sent twice, even when the task is retried or the worker dies after sending:
1. Claim. In one short transaction the dispatcher locks the due follow-up (skipping rows another worker holds)
   and the client (so two follow-ups of one client are weighed against the cap one after the other), decides
   (cancel, postpone, or send), and for a send renders the message and marks the row `sending` with one more
   attempt and the attempt's time. That commits before anything leaves the house.
2. Send, outside any transaction, with a key that names this follow-up: the `Idempotency-Key` header for the SMS
   API (the provider answers a repeated key with the same message), a deterministic Message-ID for email.
3. Record the provider's message id and `sent`, only if the row is still in the attempt this worker claimed.

A worker that dies between 1 and 3 leaves the row `sending`. Once FOLLOWUP_SENDING_LEASE_SECONDS have passed
(far longer than an SMTP or HTTP call may take), the next run recovers it:
- SMS: sent again with the same idempotency key, which the provider deduplicates: the client gets one message,
  and the row gets the provider's message id. It goes through the send-time checks again first (consent, erasure,
  quiet hours, cap, lateness): consent withdrawn since the dead worker's attempt cancels it.
- Email: SMTP has no idempotency key, so the dispatcher cannot know whether the server took the message. Email is
  at most once: the follow-up ends `failed` with a reason saying the delivery is unknown and giving the
  Message-ID to look up in the mail server's log. A client missing one thank-you is better than a client
  receiving it twice; staff see it, and may confirm it sent if the log shows it went (followup_update_by_staff).

Failures: a transient error (timeout, provider busy) puts the follow-up back to `scheduled`, due after a backoff
(FOLLOWUP_RETRY_BASE_SECONDS × 4^(attempt-1)); after FOLLOWUP_MAX_ATTEMPTS it ends `failed` with the reason. A
permanent error (a refused number, no address) fails it at once. Retries are rows with a due time, picked up by
the periodic task, not Celery countdowns (STYLE.md: Tasks).

Locks: a follow-up, then its client, both without waiting (SKIP LOCKED): a follow-up another worker holds is
theirs, and one whose client another transaction holds (a consent change, an erasure: they lock the client, then
its follow-ups) waits for the next run, so the two never deadlock.

Marketing emails carry the client's unsubscribe link (in both bodies) and the `List-Unsubscribe` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` headers (RFC 2369, RFC 8058); the link is added to what is
sent, not to the stored body, since it is a key to the client's consent (journeys.services.unsubscribe).

Held-out follow-ups go through the same checks when they come due (_weigh_held_out), so the holdout is made of
clients who would have received the message.

Consent, address, hands-off, quiet hours and the frequency cap are the house's contact-pressure policy
(touchpoints.contact_pressure), which survey messages obey too; this module registers the follow-ups' contact log.
Frequency cap: at most FOLLOWUP_MAX_PER_7_DAYS emails and SMS per client in any 7 days (sent, or being sent), across
follow-ups and surveys.
A follow-up over the cap is postponed to the moment the oldest message of the full window turns 7 days old,
unless that is more than FOLLOWUP_MAX_LATE_HOURS after it was first due: then it is cancelled with the reason
(a thank-you a week late reads worse than none). The same limit drops a follow-up that is already that late
when it is weighed: after an outage, or scheduled for a trigger long past (a legacy purchase imported today).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import smtplib
import socket
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Customer
from journeys.channels import PermanentSendError, RecipientOptedOutError, SendError, TransientSendError
from journeys.channels.sms import sms_backend
from journeys.models import FollowUp, FollowUpTemplate
from journeys.selectors import customers_on_hands_off
from journeys.services.rendering import RenderedMessage, followup_context, render_message, with_unsubscribe_link
from journeys.services.unsubscribe import sms_stop_record, unsubscribe_url
from touchpoints.contact_pressure import client_time_zone, contact_verdict, quiet_hours_end
from touchpoints.outbox import (
    NEEDS_REVIEW,
    Outbox,
    OutgoingMessage,
    SendFailure,
    after_failure,
    registered_outboxes,
    retry_delay,
    unknown_outcome_reason,
)

# Where the quiet hours and the client's clock used to live; kept importable from here.
__all__ = ["NEEDS_REVIEW", "client_time_zone", "followups_dispatch_due", "quiet_hours_end", "retry_delay"]

logger = logging.getLogger(__name__)

MESSAGE_CHANNELS = (FollowUpTemplate.Channel.EMAIL, FollowUpTemplate.Channel.SMS)
# The follow-ups' name in the contact-pressure policy's contact logs.
CONTACT_LOG = "followup"
REASON_MAX_LENGTH = FollowUp._meta.get_field("status_reason").max_length


def _reason(text: str) -> str:
    return text if len(text) <= REASON_MAX_LENGTH else text[: REASON_MAX_LENGTH - 1] + "…"


# --- Frequency cap: the follow-ups' contact log -----------------------------------------------------------------


def followup_contact_log(customer_id: int, since: dt.datetime, excluding: tuple[str, int] | None) -> list[dt.datetime]:
    """The follow-ups' part of the frequency cap (touchpoints.contact_pressure, registered in JourneysConfig.ready):
    the client's emails and SMS sent, or being sent, after `since`."""
    rows = FollowUp.objects.filter(customer_id=customer_id, channel__in=MESSAGE_CHANNELS,
                                   status__in=(FollowUp.Status.SENT, FollowUp.Status.SENDING))
    if excluding is not None and excluding[0] == CONTACT_LOG:
        rows = rows.exclude(pk=excluding[1])
    return list(
        rows.annotate(moment=Coalesce("sent_at", "last_attempt_at")).filter(moment__gt=since)
        .order_by("-moment").values_list("moment", flat=True)[:settings.FOLLOWUP_MAX_PER_7_DAYS]
    )


def customer_on_hands_off(customer_id: int, at: dt.datetime) -> bool:
    """The hands-off check of the contact-pressure policy (registered in JourneysConfig.ready)."""
    return bool(customers_on_hands_off(customer_ids=[customer_id], at=at))


# --- Claiming -------------------------------------------------------------------------------------------------


# A follow-up this worker marked `sending`, with what to send (`row_id` the follow-up, `attempt` guards the write).
Claim = OutgoingMessage


def provider_key(followup: FollowUp) -> str:
    """The key the provider deduplicates on: the follow-up's own idempotency key, hashed (it is the house's
    internal vocabulary, and may be longer than a provider accepts)."""
    digest = hashlib.sha256(f"atelier-followup:{followup.pk}:{followup.idempotency_key}".encode()).hexdigest()
    return f"followup-{followup.pk}-{digest[:32]}"


def email_message_id(followup: FollowUp) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(" >") or "atelier.example"
    return f"<{provider_key(followup)}@{domain}>"


def _close(followup: FollowUp, status: str, reason: str) -> str:
    followup.status, followup.status_reason = status, _reason(reason)
    followup.save(update_fields=["status", "status_reason", "updated_at"])
    logger.info("journeys.followup_closed followup_id=%s status=%s", followup.pk, status)
    return "cancelled" if status == FollowUp.Status.CANCELLED else "failed"


def _postpone(followup: FollowUp, until: dt.datetime, reason: str) -> str:
    followup.due_at, followup.status_reason = until, _reason(reason)
    fields = ["due_at", "status_reason", "updated_at"]
    if followup.status == FollowUp.Status.SENDING:  # a recovered SMS: back in the queue, sent again when due
        followup.status = FollowUp.Status.SCHEDULED
        fields.append("status")
    followup.save(update_fields=fields)
    logger.info("journeys.followup_postponed followup_id=%s until=%s", followup.pk, until.isoformat())
    return "postponed"


def _recipient(followup: FollowUp) -> str:
    customer = followup.customer
    return customer.email if followup.channel == FollowUpTemplate.Channel.EMAIL else customer.phone


def _lock_client(followup: FollowUp) -> Customer | None:
    """The follow-up's client, locked, so that their follow-ups are weighed against the cap one after the other
    (the cap counts what the other workers are sending them). None when another transaction holds the client (a
    consent change, an erasure, which lock the client and then the follow-ups): the follow-up is left for the next
    run rather than the two transactions waiting on each other."""
    return (
        Customer.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
        .select_related("home_boutique")
        .filter(pk=followup.customer_id)
        .first()
    )


@transaction.atomic
def _decide(*, now: dt.datetime, recovering: bool, busy: set[int] | None = None) -> tuple[str, Claim | None] | None:
    """Lock the next due follow-up (or, when `recovering`, the next SMS a dead worker left `sending`) and decide
    what becomes of it. None when there is nothing (left) to do. Follow-ups whose client is busy are added to
    `busy` and left for the next run."""
    busy = set() if busy is None else busy
    if recovering:
        due = FollowUp.objects.filter(
            status=FollowUp.Status.SENDING, channel=FollowUpTemplate.Channel.SMS,
            last_attempt_at__lt=now - dt.timedelta(seconds=settings.FOLLOWUP_SENDING_LEASE_SECONDS),
        )
    else:
        due = FollowUp.objects.filter(status=FollowUp.Status.SCHEDULED, channel__in=MESSAGE_CHANNELS, due_at__lte=now)
    followup = (
        due.exclude(pk__in=busy)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("template", "variant")
        .order_by("due_at", "pk")
        .first()
    )
    if followup is None:
        return None
    customer = _lock_client(followup)
    if customer is None:
        busy.add(followup.pk)
        return "busy", None
    followup.customer = customer
    if not recovering and followup.variant is None:
        return _close(followup, FollowUp.Status.FAILED, "The template has no variant to send."), None
    # A recovered SMS is weighed again too: consent may have been withdrawn (a STOP, an unsubscribe), the client
    # erased, or the quiet hours begun since the dead worker's attempt. A resend the provider did not deduplicate
    # would be a new message, so it must be one the client may receive now.
    verdict = _why_not_now(followup, customer, now)
    if verdict is not None:
        return _apply(followup, verdict), None
    if recovering:
        # Resent with the very same content and key: the provider deduplicates on the key.
        subject, body, text = followup.subject, followup.body, followup.body
    else:
        try:
            message = render_message(subject=followup.variant.subject, body=followup.variant.body,
                                     channel=followup.channel, context=followup_context(customer))
        except ApplicationError as error:
            return _close(followup, FollowUp.Status.FAILED, error.message), None
        subject, body, text = message.subject, message.body, message.text
        if not text:
            return _close(followup, FollowUp.Status.FAILED, "The message renders empty for this client."), None
    # The row is locked (select_for_update above): counting the attempt in Python cannot lose another's.
    followup.status, followup.attempts, followup.last_attempt_at = FollowUp.Status.SENDING, followup.attempts + 1, now
    followup.subject, followup.body = subject[:200], body
    followup.save(update_fields=["status", "attempts", "last_attempt_at", "subject", "body", "updated_at"])
    # The stored body is the message as rendered; the link (a key to the client's consent) is added on the way out.
    unsubscribe = ""
    is_marketing = followup.template.purpose == FollowUpTemplate.Purpose.MARKETING
    if followup.channel == FollowUpTemplate.Channel.EMAIL and is_marketing:
        unsubscribe = unsubscribe_url(customer=customer, channel=followup.channel, purpose=followup.template.purpose)
        outgoing = with_unsubscribe_link(RenderedMessage(subject=subject, body=body, text=text), url=unsubscribe)
        body, text = outgoing.body, outgoing.text
    claim = Claim(
        outbox=CONTACT_LOG, row_id=followup.pk, customer_id=customer.pk, attempt=followup.attempts,
        channel=followup.channel,
        recipient=_recipient(followup), subject=subject, body=body, text=text,
        provider_key=provider_key(followup), message_id=email_message_id(followup), unsubscribe_url=unsubscribe,
    )
    return "claimed", claim


@dataclass(frozen=True)
class Verdict:
    """Why a due follow-up does not go now: closed for good (`status` cancelled or failed), or postponed `until`."""

    reason: str
    status: str = ""
    until: dt.datetime | None = None


def _why_not_now(followup: FollowUp, customer: Customer, now: dt.datetime) -> Verdict | None:
    """The checks made at send time, in order; None when the follow-up may go now. Reads only. Lateness is the
    follow-ups' own; the rest is the house's contact-pressure policy (touchpoints.contact_pressure)."""
    cancelled, failed = FollowUp.Status.CANCELLED, FollowUp.Status.FAILED
    if customer.is_anonymized:
        return Verdict("Cancelled: the client's personal data was erased.", cancelled)
    late = settings.FOLLOWUP_MAX_LATE_HOURS
    first_due = followup.first_due_at or followup.due_at
    latest = first_due + dt.timedelta(hours=late)
    if now > latest:
        return Verdict(f"Dropped: due {first_due.isoformat(timespec='minutes')}, it is now over {late} h late.",
                       cancelled)
    verdict = contact_verdict(customer=customer, channel=followup.channel, purpose=followup.template.purpose,
                              now=now, latest=latest, excluding=(CONTACT_LOG, followup.pk))
    if verdict is None:
        return None
    if verdict.is_postponed:
        return Verdict(verdict.reason, until=verdict.until)
    if verdict.code == "too_late":
        limit = settings.FOLLOWUP_MAX_PER_7_DAYS
        return Verdict(f"Dropped: the client already has {limit} messages in 7 days, and waiting for room would "
                       f"send it over {late} h late.", cancelled)
    return Verdict(verdict.reason, failed if verdict.code == "no_address" else cancelled)


def _apply(followup: FollowUp, verdict: Verdict) -> str:
    if verdict.until is not None:
        return _postpone(followup, verdict.until, verdict.reason)
    return _close(followup, verdict.status, verdict.reason)


@transaction.atomic
def _weigh_held_out(*, now: dt.datetime, busy: set[int]) -> str | None:
    """The next held-out follow-up that has come due: would it have been sent now? The same checks as a real one
    (consent, address, quiet hours, cap), so that the holdout is compared with the clients who would have got it:
    - yes: it stays held out, with `sent_at` the moment it would have gone (attribution counts from there);
    - later (quiet hours, cap): postponed, as the real one would be;
    - never (no consent, no address, dropped): cancelled, and so out of both sides of the comparison, as a real
      one cancelled for the same reason is.
    An advisor task would have been on the list at its due time. None when no held-out follow-up is due."""
    followup = (
        FollowUp.objects.filter(status=FollowUp.Status.HELD_OUT, sent_at__isnull=True, due_at__lte=now)
        .exclude(pk__in=busy)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("template")
        .order_by("due_at", "pk")
        .first()
    )
    if followup is None:
        return None
    if followup.channel in MESSAGE_CHANNELS:
        customer = _lock_client(followup)
        if customer is None:
            busy.add(followup.pk)
            return "busy"
        followup.customer = customer
        verdict = _why_not_now(followup, customer, now)
        if verdict is not None and verdict.until is not None:
            return _postpone(followup, verdict.until, f"Held out; {verdict.reason[0].lower()}{verdict.reason[1:]}")
        if verdict is not None:
            why = verdict.reason.removeprefix("Cancelled: ")
            return _close(followup, FollowUp.Status.CANCELLED, f"Held out, and would not have been sent: {why}")
    followup.sent_at = now if followup.channel in MESSAGE_CHANNELS else followup.due_at
    followup.status_reason = _reason(f"Held out: nothing sent; it would have gone at "
                                     f"{followup.sent_at.isoformat(timespec='minutes')}.")
    followup.save(update_fields=["sent_at", "status_reason", "updated_at"])
    return "held_out"


# --- Sending --------------------------------------------------------------------------------------------------

# SMTP errors after which the server certainly does not hold the message: safe to try again.
_SMTP_NOT_HANDED_OVER = (smtplib.SMTPConnectError, smtplib.SMTPHeloError, ConnectionRefusedError, socket.gaierror)
_SMTP_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError)


class UnknownOutcomeError(SendError):
    """The message may or may not have reached the provider, and resending could send it twice."""


def _send_email(claim: Claim) -> str:
    headers = {"Message-ID": claim.message_id}
    if claim.unsubscribe_url:
        # RFC 2369 and RFC 8058: the mail client's unsubscribe button POSTs "List-Unsubscribe=One-Click" there.
        headers["List-Unsubscribe"] = f"<{claim.unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message = EmailMultiAlternatives(
        subject=claim.subject, body=claim.text, from_email=settings.DEFAULT_FROM_EMAIL, to=[claim.recipient],
        headers=headers,
    )
    message.attach_alternative(claim.body, "text/html")
    try:
        get_connection(fail_silently=False).send_messages([message])
    except _SMTP_REFUSED as error:
        raise PermanentSendError(f"The mail server refused it: {type(error).__name__}") from error
    except _SMTP_NOT_HANDED_OVER as error:
        raise TransientSendError(f"Mail server unreachable: {type(error).__name__}") from error
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:  # a temporary refusal: the server did not take it
            raise TransientSendError(f"The mail server deferred it ({error.smtp_code})") from error
        raise PermanentSendError(f"The mail server refused it ({error.smtp_code})") from error
    except (OSError, smtplib.SMTPException) as error:
        # A timeout or a dropped connection in the middle: the server may have the message.
        raise UnknownOutcomeError(f"The mail server stopped answering mid-send ({type(error).__name__}).") from error
    return claim.message_id


def _send(claim: Claim) -> str:
    try:
        if claim.channel == FollowUpTemplate.Channel.EMAIL:
            return _send_email(claim)
        return sms_backend().send(to=claim.recipient, body=claim.text, idempotency_key=claim.provider_key)
    except SendError:
        raise
    except Exception as error:
        # A fault of ours or of a library: record it on the follow-up rather than leave it `sending` and stop the
        # run. An SMS may go again (the key deduplicates); an email may not (at most once).
        logger.exception("journeys.followup_send_crashed followup_id=%s", claim.row_id)
        if claim.channel == FollowUpTemplate.Channel.EMAIL:
            raise UnknownOutcomeError(f"Sending raised {type(error).__name__}.") from error
        raise TransientSendError(f"Sending raised {type(error).__name__}") from error


@transaction.atomic
def _record(claim: Claim, *, now: dt.datetime, message_id: str = "", error: SendError | None = None) -> str:
    """Write the attempt's result, if the row is still in the attempt this worker claimed (a worker that outlived
    its lease finds the row taken over and writes nothing)."""
    claimed = FollowUp.objects.filter(pk=claim.row_id, status=FollowUp.Status.SENDING, attempts=claim.attempt)
    if error is None:
        # The common case in one statement: the condition is the claim, so no read is needed first.
        if claimed.update(status=FollowUp.Status.SENT, sent_at=now, provider_message_id=message_id[:200],
                          status_reason="", updated_at=timezone.now()):
            logger.info("journeys.followup_sent followup_id=%s attempt=%s", claim.row_id, claim.attempt)
            return "sent"
        return _superseded(claim)
    mine = claimed.select_for_update().first()
    if mine is None:
        return _superseded(claim)
    after = after_failure(_failure(error), attempt=claim.attempt, message_id=claim.message_id, now=now)
    if after.closed:
        return _close(mine, FollowUp.Status.CANCELLED if after.cancelled else FollowUp.Status.FAILED, after.reason)
    mine.status, mine.due_at, mine.status_reason = FollowUp.Status.SCHEDULED, after.retry_at, _reason(after.reason)
    mine.save(update_fields=["status", "due_at", "status_reason", "updated_at"])
    logger.info("journeys.followup_retry followup_id=%s attempt=%s", mine.pk, claim.attempt)
    return "retried"


def _failure(error: SendError) -> SendFailure:
    """A channel's error in the outboxes' terms (touchpoints.outbox.SendFailure)."""
    if isinstance(error, UnknownOutcomeError):
        return SendFailure("unknown", error.reason)
    if isinstance(error, RecipientOptedOutError):
        return SendFailure("opted_out", error.reason)
    if isinstance(error, PermanentSendError):
        return SendFailure("permanent", error.reason)
    return SendFailure("transient", error.reason)


def _superseded(claim: Claim) -> str:
    logger.warning("journeys.followup_attempt_superseded followup_id=%s attempt=%s", claim.row_id, claim.attempt)
    return "superseded"


_unknown_outcome_reason = unknown_outcome_reason


@transaction.atomic
def _abandon_stale_emails(now: dt.datetime) -> int:
    """Emails a dead worker left `sending`: at most once, so failed for review (see the module docstring)."""
    stale = list(
        FollowUp.objects.select_for_update(skip_locked=True).filter(
            status=FollowUp.Status.SENDING, channel=FollowUpTemplate.Channel.EMAIL,
            last_attempt_at__lt=now - dt.timedelta(seconds=settings.FOLLOWUP_SENDING_LEASE_SECONDS),
        )
    )
    for followup in stale:
        _close(followup, FollowUp.Status.FAILED, _unknown_outcome_reason(
            email_message_id(followup), "the worker stopped while handing this email to the mail server."))
    return len(stale)


def _with_unsubscribe(claim: Claim) -> Claim:
    """An outbox's marketing email with the client's unsubscribe link in both bodies and its URL for the
    List-Unsubscribe headers, as the follow-ups' (journeys.services.unsubscribe)."""
    if claim.channel != FollowUpTemplate.Channel.EMAIL or not claim.unsubscribe_purpose or claim.unsubscribe_url:
        return claim
    customer = Customer.objects.filter(pk=claim.customer_id).first()
    if customer is None:
        return claim
    url = unsubscribe_url(customer=customer, channel=claim.channel, purpose=claim.unsubscribe_purpose)
    outgoing = with_unsubscribe_link(RenderedMessage(subject=claim.subject, body=claim.body, text=claim.text), url=url)
    return dataclasses.replace(claim, body=outgoing.body, text=outgoing.text, unsubscribe_url=url)


def _drain(*, claim_next, record, counts: Counter[str], prefix: str, now: dt.datetime, limit: int,
           busy: set[int]) -> None:
    """Claim, send and record one source's due messages (recovered SMS first) until none is left or `limit`
    outcomes are counted; outcomes are counted under `prefix` + their name."""
    for recovering in (True, False):
        while sum(counts.values()) < limit:
            decided = claim_next(now=now, recovering=recovering, busy=busy)
            if decided is None:
                break
            outcome, claim = decided
            if claim is None:
                counts[prefix + outcome] += 1
                if recovering and outcome != "busy":
                    counts[prefix + "recovered"] += 1
                continue
            try:
                message_id = _send(_with_unsubscribe(claim))
            except SendError as error:
                outcome = record(claim, now=now, error=error)
                if isinstance(error, RecipientOptedOutError):
                    # The provider's report of a STOP we never received: in the ledger, after the row's own
                    # transaction (a consent change locks the client; this worker does not hold it meanwhile).
                    sms_stop_record(phone=claim.recipient, occurred_at=now)
            else:
                outcome = record(claim, now=now, message_id=message_id)
            counts[prefix + outcome] += 1
            if recovering:
                counts[prefix + "recovered"] += 1


def _outbox_record(outbox: Outbox):
    def record(claim: Claim, *, now: dt.datetime, message_id: str = "", error: SendError | None = None) -> str:
        return outbox.record(claim, now=now, message_id=message_id, failure=None if error is None else _failure(error))
    return record


def followups_dispatch_due(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Send every email and SMS follow-up that is due (at most `limit` this run), after recovering those a dead
    worker left half-sent, and weigh the held-out ones that came due (_weigh_held_out); then the due messages of
    the registered outboxes (touchpoints.outbox: feedback's survey messages), the same way, through the same
    backends. Returns how many ended how: sent, postponed, cancelled, failed, retried, recovered, held_out, and busy
    (left for the next run because another transaction held the client); an outbox's under its name
    (`survey_sent`).

    Several workers may run this at once: each claims rows the others have not locked. Not atomic as a whole on
    purpose: each follow-up commits its claim before its message leaves (see the module docstring)."""
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    counts["failed"] += _abandon_stale_emails(now)
    busy: set[int] = set()
    _drain(claim_next=_decide, record=_record, counts=counts, prefix="", now=now, limit=limit, busy=busy)
    while sum(counts.values()) < limit and (outcome := _weigh_held_out(now=now, busy=busy)) is not None:
        counts[outcome] += 1
    for outbox in registered_outboxes():
        prefix = f"{outbox.name}_"
        counts[prefix + "failed"] += outbox.abandon_stale_emails(now=now)
        _drain(claim_next=outbox.claim_next, record=_outbox_record(outbox), counts=counts, prefix=prefix, now=now,
               limit=limit, busy=set())
    return {key: value for key, value in counts.items() if value}
