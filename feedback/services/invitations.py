"""Scheduling survey invitations after touchpoints: one per survey and triggering interaction, due after the survey's
delay, and decided at once where it can be (consent, address, erasure, sampling, the recontact throttle), so that
every invitation that will not go says why.

Every committed interaction reaches `invitations_schedule_many` through touchpoints.events (FeedbackConfig.ready
registers the listener, feedback.tasks queues the task), whatever recorded it; the historical syncs record with the
listeners paused and imports tell them only when they opt in (ImportBatch.runs_automation), as for the journey rules.

What is left to the sending (feedback.services.sending, through the dispatcher): the house's contact-pressure
policy at send time (consent and erasure again, hands-off, quiet hours, the frequency cap), the throttle again
against what was sent meanwhile, and expiry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Customer
from feedback.models import Invitation, Survey, new_invitation_token
from touchpoints.models import Interaction

logger = logging.getLogger(__name__)

# The reasons decided at scheduling, in the order they are checked (hands-off is the dispatch's: see the docstring).
SCHEDULING_REASONS = (
    Invitation.Reason.ERASED,
    Invitation.Reason.EXPIRED,
    Invitation.Reason.NO_CONSENT,
    Invitation.Reason.NO_ADDRESS,
    Invitation.Reason.SAMPLED_OUT,
    Invitation.Reason.THROTTLED,
)
# The invitations the recontact throttle counts: to be sent, being sent, sent.
THROTTLE_STATUSES = (Invitation.Status.SCHEDULED, Invitation.Status.SENDING, Invitation.Status.SENT)
# How much later than its due time an invitation may go (quiet hours, the cap, retries), for the throttle's read:
# its link is dead after that, so it is never sent later (feedback.services.sending).
MAX_SEND_DRIFT = dt.timedelta(days=90)
# The class of the transaction advisory locks that serialize scheduling per client (the client's id is the key).
THROTTLE_LOCK_CLASS = 0xFEED


def recontact_days(survey: Survey) -> int:
    """Days without another invitation before this survey's may be due: the house's, or the survey's if longer."""
    return max(settings.SURVEY_RECONTACT_DAYS, survey.recontact_days or 0)


def expires_days(survey: Survey) -> int:
    """Days a survey's link stays valid after it is due: the survey's own, else the house's."""
    return settings.SURVEY_EXPIRES_DAYS if survey.expires_after_days is None else survey.expires_after_days


def is_sampled_in(*, survey: Survey, customer_id: int) -> bool:
    """Whether a client is in a survey's sample: drawn from a hash of the survey and the client (as the follow-up
    holdout is), so that a client is always in or always out of a survey, not in one invitation of two."""
    digest = hashlib.sha256(f"survey-sample:{survey.pk}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < survey.sample_percent * 100


@dataclass
class ScheduleOutcome:
    """What a run of invitations_schedule_many did: pairs of survey and interaction considered, invitations
    scheduled, pairs already handled before (unchanged), and invitations recorded as not sent, by reason."""

    evaluated: int = 0
    scheduled: int = 0
    unchanged: int = 0
    not_sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(map(str, SCHEDULING_REASONS), 0))

    def as_dict(self) -> dict[str, int]:
        return {"evaluated": self.evaluated, "scheduled": self.scheduled, "unchanged": self.unchanged,
                **self.not_sent}


def _has_address(customer: Customer, channel: str) -> bool:
    return bool(customer.email if channel == Survey.Channel.EMAIL else customer.phone)


def _is_throttled(taken: list[dt.datetime], due_at: dt.datetime, days: int) -> bool:
    window = dt.timedelta(days=days)
    return any(abs(other - due_at) < window for other in taken)


def _reason(*, survey: Survey, customer: Customer, due_at: dt.datetime, expires_at: dt.datetime,
            now: dt.datetime, taken: list[dt.datetime]) -> str:
    """Why this invitation will not go, in SCHEDULING_REASONS' order; blank when it is to be sent."""
    if customer.is_anonymized:
        return Invitation.Reason.ERASED
    if expires_at <= now:
        # An interaction recorded long after it happened (an import that opted in): its link would be dead on arrival.
        return Invitation.Reason.EXPIRED
    if not customer.has_consent(survey.channel, survey.purpose):
        return Invitation.Reason.NO_CONSENT
    if not _has_address(customer, survey.channel):
        return Invitation.Reason.NO_ADDRESS
    if not is_sampled_in(survey=survey, customer_id=customer.pk):
        return Invitation.Reason.SAMPLED_OUT
    if _is_throttled(taken, due_at, recontact_days(survey)):
        return Invitation.Reason.THROTTLED
    return ""


def _lock_clients(customer_ids: list[int]) -> None:
    # Two batches scheduling for one client at once would both pass the throttle: one waits for the other, in id
    # order so that they never deadlock. A lock of feedback's own, so no other app's rows are held.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (ids.id %% 2147483647)::integer) "
            "FROM (SELECT id FROM unnest(%s::bigint[]) AS id ORDER BY id) AS ids",
            [THROTTLE_LOCK_CLASS, customer_ids],
        )


_INSERT = f"""
    INSERT INTO {Invitation._meta.db_table}
        (created_at, updated_at, survey_id, customer_id, interaction_id, token, channel, status, reason, due_at,
         expires_at)
    SELECT %s, %s, row.survey_id, row.customer_id, row.interaction_id, row.token, row.channel, row.status, row.reason,
           row.due_at, row.expires_at
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                %s::timestamptz[], %s::timestamptz[])
         AS row(survey_id, customer_id, interaction_id, token, channel, status, reason, due_at, expires_at)
    ON CONFLICT (survey_id, interaction_id) WHERE interaction_id IS NOT NULL DO NOTHING
    RETURNING status, reason
"""  # noqa: S608 (the table name from the model)


@transaction.atomic
def invitations_schedule_many(*, interaction_ids: Iterable[int], now: dt.datetime | None = None) -> ScheduleOutcome:
    """Schedule the invitations of the active surveys triggered by these interactions: one per survey and
    interaction, due `delay_hours` after the interaction, its link valid for `expires_days` after that.

    Decided now and recorded as not_sent with the reason, in this order: the client is erased; the link would have
    expired already; no consent for the survey's channel and purpose; no address for the channel; the client is
    outside the survey's sample (is_sampled_in); the client has another invitation due within `recontact_days`
    (any survey: at most one survey per window). Running it again for the same ids changes nothing (one invitation
    per survey and interaction, a unique constraint); interactions that are gone are skipped.

    Set-based: the surveys, the interactions with their clients, a lock per client, the pairs already handled, the
    clients' scheduled invitations around the batch and one INSERT, whatever the size of the batch.
    """
    now = now or timezone.now()
    outcome = ScheduleOutcome()
    ids = sorted(set(interaction_ids))
    surveys_by_type: dict[int, list[Survey]] = defaultdict(list)
    for survey in Survey.objects.filter(is_active=True, trigger_type__isnull=False).order_by("pk"):
        surveys_by_type[survey.trigger_type_id].append(survey)
    if not ids or not surveys_by_type:
        return outcome
    interactions = list(
        Interaction.objects.filter(pk__in=ids, touchpoint_type_id__in=list(surveys_by_type))
        .select_related("customer").order_by("occurred_at", "pk")
    )
    if not interactions:
        return outcome
    customer_ids = sorted({interaction.customer_id for interaction in interactions})
    _lock_clients(customer_ids)

    pairs = [(survey, interaction) for interaction in interactions
             for survey in surveys_by_type[interaction.touchpoint_type_id]]
    outcome.evaluated = len(pairs)
    done = set(
        Invitation.objects.filter(interaction_id__in=[interaction.pk for interaction in interactions],
                                  survey_id__in={survey.pk for survey, _ in pairs})
        .values_list("survey_id", "interaction_id")
    )
    due_times = {(survey.pk, interaction.pk): interaction.occurred_at + dt.timedelta(hours=survey.delay_hours)
                 for survey, interaction in pairs}
    widest = dt.timedelta(days=max(recontact_days(survey) for survey, _ in pairs))
    taken: dict[int, list[dt.datetime]] = defaultdict(list)
    # Invitations to be sent count at their due time, those sent (or being sent) at the moment they went.
    for customer_id, due_at in Invitation.objects.filter(
        customer_id__in=customer_ids, status__in=THROTTLE_STATUSES,
        due_at__gt=min(due_times.values()) - widest - MAX_SEND_DRIFT, due_at__lt=max(due_times.values()) + widest,
    ).annotate(moment=Coalesce("sent_at", "last_attempt_at", "due_at")).values_list("customer_id", "moment"):
        taken[customer_id].append(due_at)

    rows: list[tuple] = []
    for survey, interaction in pairs:
        if (survey.pk, interaction.pk) in done:
            outcome.unchanged += 1
            continue
        due_at = due_times[(survey.pk, interaction.pk)]
        expires_at = due_at + dt.timedelta(days=expires_days(survey))
        reason = _reason(survey=survey, customer=interaction.customer, due_at=due_at, expires_at=expires_at,
                         now=now, taken=taken[interaction.customer_id])
        if not reason:
            taken[interaction.customer_id].append(due_at)
        status = Invitation.Status.NOT_SENT if reason else Invitation.Status.SCHEDULED
        rows.append((survey.pk, interaction.customer_id, interaction.pk, new_invitation_token(), survey.channel,
                     str(status), str(reason), due_at, expires_at))
    if not rows:
        return outcome
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [now, now, *(list(column) for column in zip(*rows, strict=True))])
        returned = cursor.fetchall()
    # A concurrent run that inserted a pair since the read is the one that scheduled it.
    outcome.unchanged += len(rows) - len(returned)
    for status, reason in returned:
        if status == Invitation.Status.SCHEDULED:
            outcome.scheduled += 1
        else:
            outcome.not_sent[reason] += 1
    logger.info("feedback.invitations_scheduled interactions=%s scheduled=%s not_sent=%s", len(interactions),
                outcome.scheduled, sum(outcome.not_sent.values()))
    return outcome
