"""Recording touchpoints on a client's timeline, once each whatever replays them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from core.errors import ApplicationError
from core.external_ids import external_id_check
from core.moments import happened_at_check
from customers.models import Advisor, Boutique, Channel, Customer, SourceSystem
from customers.services.activity import customers_last_interaction_record_many, customers_last_interaction_reset_many
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


class Status:
    """What a batch service did with one item."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass
class InteractionItem:
    """One interaction to record, its client and references by id. `touchpoint_type` is the type itself (the
    batch's callers load the types once)."""

    customer_id: int
    touchpoint_type: TouchpointType
    occurred_at: dt.datetime
    source: str
    external_id: str = ""
    channel: str | None = None
    boutique_id: int | None = None
    advisor_id: int | None = None
    amount: Decimal | str | None = None
    currency: str = ""
    metadata: dict[str, Any] | None = None
    order_id: int | None = None


@dataclass
class InteractionResult:
    """What interactions_record_many did with one item: created, unchanged (its (source, external id) is recorded
    already, or came earlier in the batch) or refused, with the error saying why."""

    status: str
    record_id: int | None = None
    error: ApplicationError | None = None

    @property
    def reason(self) -> str:
        return self.error.message if self.error is not None else ""


# The batch travels as one JSON document read by jsonb_to_recordset: psycopg would build one array per column in
# Python, a third of a 1,000-item batch's time.
_RECORD = (
    "id bigint, customer_id bigint, touchpoint_type_id bigint, occurred_at timestamptz, channel text, "
    "boutique_id bigint, advisor_id bigint, source text, external_id text, amount numeric, currency text, "
    "metadata jsonb, order_id bigint"
)
_COLUMNS = ("id", "customer_id", "touchpoint_type_id", "occurred_at", "channel", "boutique_id", "advisor_id",
            "source", "external_id", "amount", "currency", "metadata", "order_id")


@transaction.atomic
def interactions_record_many(*, items: Sequence[InteractionItem]) -> list[InteractionResult]:
    """Put many touchpoints on their clients' timelines, one result per item, in order: each item is checked with
    interaction_clean; the valid ones are written with one INSERT for the batch (a replayed (source, external id)
    is the interaction already there: unchanged), their clients' last interaction moved on in one statement, and
    the journey listeners told once the transaction commits. A handful of statements whatever the batch's size."""
    results: list[InteractionResult | None] = [None] * len(items)
    rows: list[tuple[int, dict[str, Any]]] = []
    for index, item in enumerate(items):
        try:
            values = interaction_clean(
                touchpoint_type=item.touchpoint_type, occurred_at=item.occurred_at, source=item.source,
                channel=item.channel, amount=item.amount, currency=item.currency, metadata=item.metadata,
                external_id=item.external_id,
            )
        except ApplicationError as error:
            results[index] = InteractionResult(status=Status.REFUSED, error=error)
            continue
        rows.append((index, {
            "customer_id": item.customer_id, "touchpoint_type_id": item.touchpoint_type.pk,
            "occurred_at": item.occurred_at, "channel": values.channel, "boutique_id": item.boutique_id,
            "advisor_id": item.advisor_id, "source": item.source, "external_id": (item.external_id or "").strip(),
            "amount": values.amount, "currency": values.currency, "metadata": values.metadata,
            "order_id": item.order_id,
        }))

    # The same (source, external id) twice in one batch is one interaction, as two calls would make it.
    first_of_key: dict[tuple[str, str], int] = {}
    fresh: list[tuple[int, dict[str, Any]]] = []
    repeats: list[tuple[int, tuple[str, str]]] = []
    for index, values in rows:
        key = (values["source"], values["external_id"])
        if not key[1]:
            fresh.append((index, values))
        elif key in first_of_key:
            repeats.append((index, key))
        else:
            first_of_key[key] = index
            fresh.append((index, values))
    existing = _existing_ids(list(first_of_key))
    fresh = [(index, values) for index, values in fresh
             if not values["external_id"] or (values["source"], values["external_id"]) not in existing]
    written = _insert([values for _index, values in fresh])
    # A concurrent call may have recorded a key between the lookup and the insert: it is the same interaction.
    lost = [(values["source"], values["external_id"]) for _index, values in fresh if values["id"] not in written]
    if lost:
        existing.update(_existing_ids(lost))

    ids_by_key = dict(existing)
    latest: dict[int, dt.datetime] = {}
    for index, values in fresh:
        if values["id"] in written:
            results[index] = InteractionResult(status=Status.CREATED, record_id=values["id"])
            ids_by_key[(values["source"], values["external_id"])] = values["id"]
            customer_id = values["customer_id"]
            if customer_id not in latest or values["occurred_at"] > latest[customer_id]:
                latest[customer_id] = values["occurred_at"]
    for index, values in rows:
        if results[index] is None:
            results[index] = InteractionResult(status=Status.UNCHANGED,
                                               record_id=ids_by_key[(values["source"], values["external_id"])])
    for index, key in repeats:
        results[index] = InteractionResult(status=Status.UNCHANGED, record_id=ids_by_key[key])

    customers_last_interaction_record_many(moments=latest)
    interactions_recorded(sorted(written))
    logger.info("touchpoints.interactions_recorded items=%s created=%s", len(items), len(written))
    return results  # type: ignore[return-value]


def _existing_ids(keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.source, i.external_id, i.id FROM {Interaction._meta.db_table} AS i "  # noqa: S608
            "JOIN unnest(%s::text[], %s::text[]) AS k(source, external_id) "
            # `external_id <> ''` repeats the unique index's condition: without it PostgreSQL cannot use that partial
            # index and reads every interaction (3.7 s a request at ten million).
            "ON i.source = k.source AND i.external_id = k.external_id AND i.external_id <> ''",
            [[key[0] for key in keys], [key[1] for key in keys]],
        )
        return {(source, external_id): pk for source, external_id, pk in cursor.fetchall()}


def _insert(rows: list[dict[str, Any]]) -> set[int]:
    """Insert the rows in one statement; returns the ids written (a row whose key a concurrent call recorded first
    is skipped). Ids are drawn from the sequence first, so that each item knows its row whatever order RETURNING
    gives."""
    if not rows:
        return set()
    table = Interaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(rows)]
        )
        for values, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            values["id"] = pk
        payload = json.dumps(rows, default=str)
        columns = ", ".join(_COLUMNS)
        cursor.execute(
            f"INSERT INTO {table} ({columns}, created_at) "  # noqa: S608
            f"SELECT {columns}, %s::timestamptz FROM jsonb_to_recordset(%s::jsonb) AS v({_RECORD}) "
            "ON CONFLICT (source, external_id) WHERE external_id <> '' DO NOTHING RETURNING id",
            # The application's clock, as auto_now_add would take it (a test's frozen clock included).
            [timezone.now(), payload],
        )
        return {pk for (pk,) in cursor.fetchall()}


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
    """Put one touchpoint on a client's timeline: interactions_record_many with one item. The same (source,
    external id) twice is one interaction: the second call changes nothing and says so (created=False). Raises
    ApplicationError naming the field at fault."""
    item = InteractionItem(
        customer_id=customer.pk, touchpoint_type=resolve_touchpoint_type(touchpoint_type), occurred_at=occurred_at,
        source=source, external_id=external_id or "", channel=channel, boutique_id=boutique.pk if boutique else None,
        advisor_id=advisor.pk if advisor else None, amount=amount, currency=currency, metadata=metadata,
        order_id=order.pk if order else None,
    )
    [result] = interactions_record_many(items=[item])
    if result.error is not None:
        raise result.error
    interaction = Interaction.objects.get(pk=result.record_id)
    return RecordResult(record=interaction, created=result.status == Status.CREATED)


def customers_last_interaction_recompute(*, customer_ids: Iterable[int]) -> int:
    """After interactions were removed (a rollback): each client's last interaction is again the latest one left on
    their timeline. Read here, written by customers."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    latest = dict(
        Interaction.objects.filter(customer_id__in=ids).values("customer_id").annotate(moment=Max("occurred_at"))
        .values_list("customer_id", "moment")
    )
    return customers_last_interaction_reset_many(customer_ids=ids, latest=latest)
