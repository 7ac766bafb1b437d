"""Recording touchpoints on a client's timeline, once each whatever replays them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Greatest

from core.errors import ApplicationError
from core.external_ids import external_id_check
from core.moments import happened_at_check
from customers.models import Advisor, Boutique, Channel, Customer, SourceSystem
from touchpoints.events import interactions_recorded
from touchpoints.models import Interaction, Order, TouchpointType

logger = logging.getLogger(__name__)

# Computed once: the choices' `.values` builds a new list on every access, and an import checks every row.
SOURCE_SYSTEMS = frozenset(SourceSystem.values)
CHANNELS = frozenset(Channel.values)
EXTERNAL_ID_MAX_LENGTH = Interaction._meta.get_field("external_id").max_length


@dataclass
class RecordResult:
    """What a recording service did: the record, and whether it was created, changed or already there."""

    record: Any
    created: bool
    changed: bool = False


def resolve_touchpoint_type(touchpoint_type: TouchpointType | str) -> TouchpointType:
    if isinstance(touchpoint_type, TouchpointType):
        return touchpoint_type
    try:
        return TouchpointType.objects.get(code=touchpoint_type)
    except TouchpointType.DoesNotExist:
        raise ApplicationError.for_field("touchpoint_type", f"Unknown touchpoint type {touchpoint_type!r}.") from None


def clean_amount(value: Any, *, field: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError.for_field(field, f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise ApplicationError.for_field(field, f"{value!r} is not an amount.")
    return amount.quantize(Decimal("0.01"))


# NUL as JSON writes it (\u0000), not preceded by an escaped backslash (the text "\\u0000" is no NUL).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _metadata_check(metadata: dict[str, Any]) -> None:
    """Metadata PostgreSQL can store and pages can show: at most INTERACTION_METADATA_MAX_BYTES as compact JSON, no
    NUL (jsonb cannot hold it) and no lone surrogate (no UTF-8 encodes it)."""
    try:
        serialized = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                                default=str).encode("utf-8")
    except RecursionError:
        raise ApplicationError.for_field("metadata", "Metadata is nested too deeply.") from None
    except UnicodeEncodeError:
        raise ApplicationError.for_field("metadata", "Metadata holds text that is not valid Unicode.") from None
    except ValueError:  # NaN or an infinity: not JSON
        raise ApplicationError.for_field("metadata", "Metadata holds a number that is not finite.") from None
    limit = settings.INTERACTION_METADATA_MAX_BYTES
    if len(serialized) > limit:
        raise ApplicationError.for_field(
            "metadata", f"Metadata holds at most {limit:,} bytes as JSON, not {len(serialized):,}."
        )
    if _NUL_ESCAPE.search(serialized):
        raise ApplicationError.for_field("metadata", "Metadata cannot hold the NUL character.")


@dataclass(frozen=True)
class InteractionValues:
    """An interaction's values once interaction_clean has accepted them."""

    channel: str
    amount: Decimal | None
    currency: str
    metadata: dict[str, Any]


def interaction_clean(
    *,
    touchpoint_type: TouchpointType,
    occurred_at: dt.datetime,
    source: str,
    channel: str | None = None,
    amount: Decimal | str | None = None,
    currency: str = "",
    metadata: dict[str, Any] | None = None,
    external_id: str = "",
) -> InteractionValues:
    """interaction_record's rules on one interaction's values, without writing: the channel defaults to the type's,
    an amount is not negative and has its currency. Raises ApplicationError naming the field; the importer applies
    the same rules to a file's rows before writing them set-based."""
    if source not in SOURCE_SYSTEMS:
        raise ApplicationError.for_field("source", f"Unknown source system {source!r}.")
    if occurred_at.tzinfo is None:
        raise ApplicationError.for_field("occurred_at", "The moment of the interaction needs a time zone.")
    happened_at_check(occurred_at, field="occurred_at")
    external_id_check(external_id, field="external_id", max_length=EXTERNAL_ID_MAX_LENGTH)
    channel = channel or touchpoint_type.channel
    if channel not in CHANNELS:
        raise ApplicationError.for_field("channel", f"Unknown channel {channel!r}.")
    if metadata is not None and not isinstance(metadata, dict):
        raise ApplicationError.for_field("metadata", "Metadata must be an object.")
    if metadata:
        _metadata_check(metadata)
    if amount is not None:
        amount = clean_amount(amount, field="amount")
        if amount < 0:
            raise ApplicationError.for_field("amount", "An interaction's amount cannot be negative.")
        currency = (currency or "").upper()
        if len(currency) != 3:
            raise ApplicationError.for_field("currency", "An amount needs its three-letter currency code.")
    return InteractionValues(
        channel=channel, amount=amount, currency=currency if amount is not None else "", metadata=metadata or {}
    )


@transaction.atomic
def interaction_record(
    *,
    customer: Customer,
    touchpoint_type: TouchpointType | str,
    occurred_at: dt.datetime,
    source: str,
    external_id: str | None = None,
    channel: str | None = None,
    boutique: Boutique | None = None,
    advisor: Advisor | None = None,
    amount: Decimal | str | None = None,
    currency: str = "",
    metadata: dict[str, Any] | None = None,
    order: Order | None = None,
) -> RecordResult:
    """Put one touchpoint on a client's timeline. The same (source, external id) twice is one interaction:
    the second call changes nothing and says so (created=False)."""
    touchpoint_type = resolve_touchpoint_type(touchpoint_type)
    values = interaction_clean(
        touchpoint_type=touchpoint_type, occurred_at=occurred_at, source=source, channel=channel, amount=amount,
        currency=currency, metadata=metadata, external_id=external_id,
    )
    external_id = (external_id or "").strip()

    if external_id:
        existing = Interaction.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return RecordResult(record=existing, created=False)
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                customer=customer,
                touchpoint_type=touchpoint_type,
                occurred_at=occurred_at,
                channel=values.channel,
                boutique=boutique,
                advisor=advisor,
                source=source,
                external_id=external_id,
                amount=values.amount,
                currency=values.currency,
                metadata=values.metadata,
                order=order,
            )
    except IntegrityError:
        # A concurrent replay of the same record won the race: it is the same interaction.
        existing = Interaction.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return RecordResult(record=existing, created=False)
    last_seen = Greatest("last_interaction_at", Value(occurred_at))
    Customer.objects.filter(pk=customer.pk).update(last_interaction_at=last_seen)
    interactions_recorded([interaction.pk])
    logger.info("touchpoints.interaction_recorded interaction_id=%s customer_id=%s", interaction.pk, customer.pk)
    return RecordResult(record=interaction, created=True)
