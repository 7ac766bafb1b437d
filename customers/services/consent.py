"""The consent ledger: every grant and withdrawal is an event; the client's current consent is derived from it."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.moments import happened_at_check
from customers.models import ConsentChannel, ConsentEvent, ConsentPurpose, Customer, SourceSystem

logger = logging.getLogger(__name__)


def consent_key(channel: str, purpose: str) -> str:
    return f"{channel}_{purpose}"


def current_consent(customer: Customer) -> dict[str, bool]:
    """The latest event per channel and purpose decides; events may arrive out of order from syncs."""
    latest = (
        ConsentEvent.objects.filter(customer=customer)
        .order_by("channel", "purpose", "-occurred_at", "-pk")
        .distinct("channel", "purpose")
        .values_list("channel", "purpose", "is_granted")
    )
    return {consent_key(channel, purpose): granted for channel, purpose, granted in latest}


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
    event, created = ConsentEvent.objects.get_or_create(
        customer=customer,
        channel=channel,
        purpose=purpose,
        occurred_at=occurred_at,
        defaults={
            "is_granted": is_granted,
            "source": source,
            "recorded_by": recorded_by,
            "wording_version": wording_version,
        },
    )
    if created:
        state = current_consent(customer)
        if state != customer.consent:
            customer.consent = state
            customer.save(update_fields=["consent", "updated_at"])
        logger.info("customers.consent_recorded customer_id=%s event_id=%s", customer.pk, event.pk)
    return event


def consent_refresh_many(*, customer_ids: list[int]) -> int:
    """Recompute the current consent of many clients from the ledger in one statement (imports, rollbacks).

    The same rule as `current_consent`: the latest event per channel and purpose decides (ties by the later
    event); a client without events has none. Returns how many clients' consent changed.
    """
    if not customer_ids:
        return 0
    customers, events = Customer._meta.db_table, ConsentEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {customers} AS c SET consent = s.state, updated_at = %s
            FROM (
                SELECT ids.id, COALESCE(agg.state, '{{}}'::jsonb) AS state
                FROM unnest(%s::bigint[]) AS ids(id)
                LEFT JOIN (
                    SELECT latest.customer_id,
                           jsonb_object_agg(latest.channel || '_' || latest.purpose, latest.is_granted) AS state
                    FROM (
                        SELECT DISTINCT ON (e.customer_id, e.channel, e.purpose)
                               e.customer_id, e.channel, e.purpose, e.is_granted
                        FROM {events} AS e WHERE e.customer_id = ANY(%s::bigint[])
                        ORDER BY e.customer_id, e.channel, e.purpose, e.occurred_at DESC, e.id DESC
                    ) AS latest
                    GROUP BY latest.customer_id
                ) AS agg ON agg.customer_id = ids.id
            ) AS s
            WHERE c.id = s.id AND c.consent IS DISTINCT FROM s.state
            """,  # noqa: S608 (table names from the models)
            [timezone.now(), list(customer_ids), list(customer_ids)],
        )
        return cursor.rowcount


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
