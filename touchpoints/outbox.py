"""Outboxes: messages of the apps above touchpoints that the follow-up dispatcher sends for them.

The dispatcher (journeys.services.dispatch) owns how a message leaves the house: the email and SMS backends, the key
that makes a retried send one message, the unsubscribe link and headers, the classification of failures. An app
with messages of its own to send (feedback: survey invitations, reminders, referral asks) does not copy it: it
registers an outbox here, in its AppConfig.ready(), and keeps only what is its own: which of its rows are due, the
checks it makes before one goes (through touchpoints.contact_pressure, like the follow-ups), what the message says,
and what becomes of the row after an attempt. Touchpoints sits below both apps, so neither imports the other.

The protocol follows the follow-ups' "never twice" (see journeys.services.dispatch):
1. `claim_next` locks one due row (SKIP LOCKED), decides, and for a send marks it `sending` with one more attempt,
   in a transaction that commits before the message leaves; it returns the message (an OutgoingMessage);
2. the dispatcher sends it, outside any transaction;
3. `record` writes the result, only if the row is still in the attempt this claim made.
With `recovering`, `claim_next` takes an SMS a dead worker left `sending` past FOLLOWUP_SENDING_LEASE_SECONDS (resent
with the same key, which the provider deduplicates); `abandon_stale_emails` fails the emails left so (at most once).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

# How the reason of an email whose delivery is unknown begins; staff may confirm it sent.
NEEDS_REVIEW = "Needs review:"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message an outbox claimed (its row is `sending`, in attempt `attempt`), as it is to leave.

    `unsubscribe_purpose`: the consent purpose whose unsubscribe link and List-Unsubscribe headers the dispatcher
    adds to an email (the link is a key to the client's consent, so it is added on the way out, never stored);
    `unsubscribe_url` once added, or when the outbox added it itself."""

    outbox: str
    row_id: int
    attempt: int
    channel: str
    recipient: str
    subject: str
    body: str
    text: str
    provider_key: str
    message_id: str
    customer_id: int = 0
    unsubscribe_purpose: str = ""
    unsubscribe_url: str = ""


@dataclass(frozen=True)
class SendFailure:
    """Why an attempt did not go: `transient` (try again later), `permanent` (another attempt fails the same way),
    `opted_out` (the provider refuses the number: its owner replied STOP), `unknown` (the message may have reached
    the provider: an email is then never resent)."""

    kind: str
    reason: str


class Outbox(Protocol):
    """What an app registers to have its messages sent (see the module docstring)."""

    name: str

    def claim_next(self, *, now: dt.datetime, recovering: bool,
                   busy: set[int]) -> tuple[str, OutgoingMessage | None] | None: ...

    def record(self, message: OutgoingMessage, *, now: dt.datetime, message_id: str = "",
               failure: SendFailure | None = None) -> str: ...

    def abandon_stale_emails(self, *, now: dt.datetime) -> int: ...


_outboxes: dict[str, Outbox] = {}


def register_outbox(outbox: Outbox) -> None:
    """Have the dispatcher send `outbox`'s due messages on each of its runs (after the follow-ups)."""
    _outboxes[outbox.name] = outbox


def registered_outboxes() -> list[Outbox]:
    return list(_outboxes.values())


def retry_delay(attempt: int) -> dt.timedelta:
    """The wait before attempt `attempt + 1`: FOLLOWUP_RETRY_BASE_SECONDS, then ×4 each time."""
    return dt.timedelta(seconds=settings.FOLLOWUP_RETRY_BASE_SECONDS * 4 ** (attempt - 1))


def unknown_outcome_reason(message_id: str, what: str) -> str:
    return (f"{NEEDS_REVIEW} {what} Not resent, so the client never gets it twice; look up Message-ID {message_id} "
            f"in the mail server's log.")


@dataclass(frozen=True)
class AfterFailure:
    """What becomes of a row whose attempt failed: `closed` for good (`cancelled` says whether as cancelled rather
    than failed), or retried at `retry_at`; `reason` is what staff read."""

    reason: str
    closed: bool = True
    cancelled: bool = False
    retry_at: dt.datetime | None = None


def after_failure(failure: SendFailure, *, attempt: int, message_id: str, now: dt.datetime) -> AfterFailure:
    """The house's answer to a failed attempt, the same for every outbox: an unknown outcome is failed for review
    (never resent), a STOP cancels, a permanent error fails, a transient one is retried with backoff until
    FOLLOWUP_MAX_ATTEMPTS."""
    if failure.kind == "unknown":
        return AfterFailure(unknown_outcome_reason(message_id, failure.reason))
    if failure.kind == "opted_out":
        return AfterFailure("Cancelled: the client replied STOP to our SMS (the provider refuses the number).",
                            cancelled=True)
    if failure.kind == "permanent":
        return AfterFailure(f"Failed: {failure.reason}")
    if attempt >= settings.FOLLOWUP_MAX_ATTEMPTS:
        return AfterFailure(f"Failed after {attempt} attempts: {failure.reason}")
    retry_at = now + retry_delay(attempt)
    return AfterFailure(f"Attempt {attempt} failed ({failure.reason}); next attempt at "
                        f"{retry_at.isoformat(timespec='seconds')}.", closed=False, retry_at=retry_at)
