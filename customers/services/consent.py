"""The consent ledger: every grant and withdrawal is an event; the client's current consent is derived from it."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.bulk import insert_rows
from core.errors import ApplicationError
from core.moments import happened_at_check
from customers.models import ConsentChannel, ConsentEvent, ConsentPurpose, Customer, SourceSystem

logger = logging.getLogger(__name__)


# The one derivation of a client's current consent from the ledger: the latest event per channel and purpose decides
# (events may arrive out of order from syncs; ties go to the later event). Every reader and writer of the state uses it.
_STATE_SQL = f"""
    SELECT ids.id AS customer_id, COALESCE(agg.state, '{{}}'::jsonb) AS state
    FROM unnest(%s::bigint[]) AS ids(id)
    LEFT JOIN (
        SELECT latest.customer_id,
               jsonb_object_agg(latest.channel || '_' || latest.purpose, latest.is_granted) AS state
        FROM (
            SELECT DISTINCT ON (e.customer_id, e.channel, e.purpose) e.customer_id, e.channel, e.purpose, e.is_granted
            FROM {ConsentEvent._meta.db_table} AS e WHERE e.customer_id = ANY(%s::bigint[])
            ORDER BY e.customer_id, e.channel, e.purpose, e.occurred_at DESC, e.id DESC
        ) AS latest
        GROUP BY latest.customer_id
    ) AS agg ON agg.customer_id = ids.id
"""  # noqa: S608 (table names from the models)


def consent_key(channel: str, purpose: str) -> str:
    return f"{channel}_{purpose}"


def latest_consent_events() -> QuerySet[ConsentEvent]:
    """The ledger's deciding events, one per client, channel and purpose, by _STATE_SQL's order (for reads that
    need the event itself, such as the export's consent moments)."""
    return ConsentEvent.objects.order_by("customer_id", "channel", "purpose", "-occurred_at", "-pk").distinct(
        "customer_id", "channel", "purpose"
    )


def current_consent(customer: Customer) -> dict[str, bool]:
    """The client's consent as the ledger says it now (see _STATE_SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL, [[customer.pk], [customer.pk]])
        (_pk, state), = cursor.fetchall()
    return json.loads(state) if isinstance(state, str) else state


@dataclass(frozen=True)
class ConsentAnswer:
    """A client's answer for one channel: granted or withdrawn at `occurred_at`; `is_dated` when the source gave
    the moment (an undated answer is taken at the moment it arrived, and only a change of mind is news)."""

    channel: str
    is_granted: bool
    occurred_at: dt.datetime
    is_dated: bool = True
    purpose: str = ConsentPurpose.MARKETING


def consent_answer_is_news(answer: ConsentAnswer, *, state: dict[str, bool], moments: set[dt.datetime]) -> bool:
    """Whether an answer adds to a client's ledger: a dated answer already there at that moment is a replay; an
    undated one is news only when it changes the current state."""
    if answer.is_dated:
        return answer.occurred_at not in moments
    return state.get(consent_key(answer.channel, answer.purpose)) != answer.is_granted


@dataclass(frozen=True)
class ConsentEventItem:
    """One event for consents_record_many: a cleaned entry of the ledger."""

    customer_id: int
    channel: str
    purpose: str
    is_granted: bool
    occurred_at: dt.datetime
    source: str
    recorded_by_id: int | None = None
    wording_version: str = ""


def consents_record_many(items: list[ConsentEventItem], *, refresh: bool = True) -> list[tuple[int, int]]:
    """Add events to the consent ledger in one statement, a replayed one (same client, channel, purpose and moment)
    recording nothing, then derive the current consent of the clients concerned (unless `refresh` is False: the
    caller refreshes once for a larger set). Returns (event id, client id) for the events added."""
    if not items:
        return []
    returned = insert_rows(
        ConsentEvent._meta.db_table,
        {"customer_id": "bigint", "channel": "text", "purpose": "text", "is_granted": "boolean",
         "occurred_at": "timestamptz", "source": "text", "recorded_by_id": "bigint", "wording_version": "text"},
        [(item.customer_id, item.channel, item.purpose, item.is_granted, item.occurred_at, item.source,
          item.recorded_by_id, item.wording_version) for item in items],
        constants={"created_at": "statement_timestamp()"},
        suffix="ON CONFLICT DO NOTHING RETURNING id, customer_id",
    )
    if refresh:
        consent_refresh_many(customer_ids=sorted({customer for _pk, customer in returned}))
    return [(pk, customer) for pk, customer in returned]


@transaction.atomic
def consent_record(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    is_granted: bool,
    occurred_at: dt.datetime,
    source: str,
    recorded_by: AbstractBaseUser | None = None,
    wording_version: str = "",
) -> ConsentEvent:
    """Record that a client granted or withdrew consent, and update their current consent from the ledger.

    Replaying the same event (same client, channel, purpose and moment) records nothing new.
    """
    if channel not in ConsentChannel.values:
        raise ApplicationError.for_field("channel", f"Unknown consent channel {channel!r}.")
    if purpose not in ConsentPurpose.values:
        raise ApplicationError.for_field("purpose", f"Unknown consent purpose {purpose!r}.")
    if source not in SourceSystem.values:
        raise ApplicationError.for_field("source", f"Unknown source system {source!r}.")
    if occurred_at.tzinfo is None:
        raise ApplicationError.for_field("occurred_at", "The moment of consent needs a time zone.")
    happened_at_check(occurred_at, field="occurred_at")

    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    added = consents_record_many([ConsentEventItem(
        customer_id=customer.pk, channel=channel, purpose=purpose, is_granted=is_granted, occurred_at=occurred_at,
        source=source, recorded_by_id=recorded_by.pk if recorded_by is not None else None,
        wording_version=wording_version,
    )])
    event = ConsentEvent.objects.get(customer=customer, channel=channel, purpose=purpose, occurred_at=occurred_at)
    if added:
        customer.refresh_from_db(fields=["consent", "updated_at"])
        logger.info("customers.consent_recorded customer_id=%s event_id=%s", customer.pk, event.pk)
    return event


def consent_refresh_many(*, customer_ids: list[int]) -> list[int]:
    """Derive the current consent of many clients from the ledger in one statement (see _STATE_SQL); a client
    without events has none. Returns the clients whose consent changed."""
    if not customer_ids:
        return []
    ids = list(customer_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Customer._meta.db_table} AS c SET consent = s.state, updated_at = %s "  # noqa: S608
            f"FROM ({_STATE_SQL}) AS s WHERE c.id = s.customer_id AND c.consent IS DISTINCT FROM s.state "
            "RETURNING c.id",
            [timezone.now(), ids, ids],
        )
        return [pk for (pk,) in cursor.fetchall()]


@transaction.atomic
def consent_withdraw(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    occurred_at: dt.datetime,
    source: str,
    wording_version: str = "",
) -> ConsentEvent | None:
    """Record that a client withdrew consent, unless their current consent is already withdrawn (an unsubscribe
    link clicked twice, a STOP the provider reports again): None then, and the ledger is unchanged."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if current_consent(customer).get(consent_key(channel, purpose)) is False:
        return None
    return consent_record(customer=customer, channel=channel, purpose=purpose, is_granted=False,
                          occurred_at=occurred_at, source=source, wording_version=wording_version)
