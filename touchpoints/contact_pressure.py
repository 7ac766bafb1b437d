"""The contact-pressure policy: whether a client may be sent one more email or SMS now, whatever sends it.

One rule for every message that leaves the house (journeys' follow-ups, feedback's survey invitations, reminders
and referral asks), checked at send time, in this order:
1. erased: the client's personal data was erased;
2. consent for the channel and the message's purpose (withdrawn, or never given);
3. an address for the channel (an email address, a mobile number);
4. hands-off: an advisor paused automation for the client (journeys registers the check, see below);
5. quiet hours on the client's clock (their home boutique's time zone): postponed to the end of them;
6. the frequency cap: at most FOLLOWUP_MAX_PER_7_DAYS messages in any 7 days, counted across every registered
   contact log (follow-ups and surveys alike): postponed until the window has room, or dropped when that is later
   than the message's `latest` moment.

Touchpoints may not import the apps above it (STYLE.md: apps depend one way), so the apps whose tables hold sent
messages register a contact log here (`register_contact_log`), and journeys registers the hands-off check
(`register_hands_off_check`), in their AppConfig.ready(), in one visible place.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from core.errors import ApplicationError
from customers.models import Customer
from customers.services.consent import consent_key, current_consent

CAP_WINDOW = dt.timedelta(days=7)
CHANNEL_LABELS = {"email": "Email", "sms": "SMS"}

# A contact log: (customer_id, since, excluding) -> the moments of the client's messages sent, or being sent, after
# `since` (at most FOLLOWUP_MAX_PER_7_DAYS of the latest), leaving out the message being weighed (`excluding` is
# the (log name, row id) of it, or None).
ContactLog = Callable[[int, dt.datetime, tuple[str, int] | None], list[dt.datetime]]
HandsOffCheck = Callable[[int, dt.datetime], bool]

_contact_logs: dict[str, ContactLog] = {}
_hands_off_checks: list[HandsOffCheck] = []


def register_contact_log(name: str, log: ContactLog) -> None:
    """Count the messages `log` reports against the frequency cap, under `name` (the kind of row: "followup")."""
    _contact_logs[name] = log


def register_hands_off_check(check: HandsOffCheck) -> None:
    """`check(customer_id, at)` says whether the client is on hands-off at `at`."""
    if check not in _hands_off_checks:
        _hands_off_checks.append(check)


# --- Quiet hours ----------------------------------------------------------------------------------------------


def _clock(value: str, name: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError as error:
        raise ApplicationError(f"{name} is {value!r}; give a time as HH:MM.") from error


def client_time_zone(customer: Customer) -> zoneinfo.ZoneInfo:
    """The client's clock: their home boutique's time zone, else the house's (TIME_ZONE)."""
    boutique = customer.home_boutique
    return zoneinfo.ZoneInfo(boutique.timezone if boutique is not None else settings.TIME_ZONE)


def quiet_hours_end(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """When the quiet hours that `moment` falls in end (local FOLLOWUP_QUIET_HOURS_END), or None if it is not
    within them. The quiet hours may span midnight (21:00–09:00) or not (12:00–14:00); equal bounds: none."""
    start = _clock(settings.FOLLOWUP_QUIET_HOURS_START, "FOLLOWUP_QUIET_HOURS_START")
    end = _clock(settings.FOLLOWUP_QUIET_HOURS_END, "FOLLOWUP_QUIET_HOURS_END")
    local = moment.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        is_quiet, end_day = start <= now < end, local.date()
    else:
        is_quiet = now >= start or now < end
        end_day = local.date() if now < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(end_day, end, tzinfo=zone) if is_quiet else None


# --- Frequency cap --------------------------------------------------------------------------------------------


def cap_frees_at(*, customer_id: int, now: dt.datetime, excluding: tuple[str, int] | None = None) -> dt.datetime | None:
    """None if the client may get one more message now; else the moment the 7-day window has room again. Counts
    the messages of every registered contact log."""
    limit = settings.FOLLOWUP_MAX_PER_7_DAYS
    since = now - CAP_WINDOW
    moments = sorted(
        (moment for log in _contact_logs.values() for moment in log(customer_id, since, excluding)), reverse=True
    )[:limit]
    if len(moments) < limit:
        return None
    return moments[limit - 1] + CAP_WINDOW


# --- The policy -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Why a message does not go now. `code` is one of erased, withdrawn, no_consent, no_address, hands_off (for
    good), quiet_hours, frequency_cap (postponed `until`), too_late (the cap would make it later than allowed);
    `reason` is what staff read."""

    code: str
    reason: str
    until: dt.datetime | None = None

    @property
    def is_postponed(self) -> bool:
        return self.until is not None


def address_for(customer: Customer, channel: str) -> str:
    """The client's address on a channel: their email, or their mobile for SMS."""
    return customer.email if channel == "email" else customer.phone


def contact_verdict(
    *, customer: Customer, channel: str, purpose: str, now: dt.datetime, latest: dt.datetime | None = None,
    excluding: tuple[str, int] | None = None,
) -> Verdict | None:
    """The checks of the module docstring, in order; None when the message may go now. Reads only.

    `latest`: a postponement past it drops the message (too_late); None: no limit. `excluding` names the message
    itself in its contact log, so that a message being resent is not counted against its own cap."""
    if customer.is_anonymized:
        return Verdict("erased", "Cancelled: the client's personal data was erased.")
    consent = current_consent(customer).get(consent_key(channel, purpose))
    label = f"{CHANNEL_LABELS.get(channel, channel)} {purpose}"
    if consent is False:
        return Verdict("withdrawn", f"Cancelled: the client withdrew consent to {label} messages.")
    if consent is None:
        return Verdict("no_consent", f"Cancelled: the client never gave consent to {label} messages.")
    if not address_for(customer, channel):
        kind = "email address" if channel == "email" else "mobile number"
        return Verdict("no_address", f"The client has no {kind}.")
    if any(check(customer.pk, now) for check in _hands_off_checks):
        return Verdict("hands_off", "Cancelled: an advisor put the client on hands-off.")
    zone = client_time_zone(customer)
    quiet_end = quiet_hours_end(now, zone)
    if quiet_end is not None:
        return Verdict("quiet_hours",
                       f"Postponed: quiet hours in {zone.key} until {quiet_end.strftime('%H:%M')} local time.",
                       until=quiet_end)
    frees_at = cap_frees_at(customer_id=customer.pk, now=now, excluding=excluding)
    if frees_at is not None:
        limit = settings.FOLLOWUP_MAX_PER_7_DAYS
        if latest is not None and frees_at > latest:
            return Verdict("too_late", f"Dropped: the client already has {limit} messages in 7 days, and waiting for "
                           f"room would send it too late.")
        return Verdict("frequency_cap", f"Postponed: {limit} messages in 7 days already (frequency cap).",
                       until=frees_at)
    return None
