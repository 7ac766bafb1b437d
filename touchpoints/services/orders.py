"""Recording sales from the POS and ecommerce, with their lines, returns and cancellations."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.external_ids import external_id_check
from core.moments import happened_at_check
from customers.models import Advisor, Boutique, Channel, Customer, SourceSystem
from touchpoints.models import Interaction, Order, OrderLine, Product, TouchpointType
from touchpoints.services.interactions import (
    InteractionItem,
    RecordResult,
    Status,
    clean_amount,
    interactions_record_many,
)
from touchpoints.services.metrics import customer_metrics_refresh

logger = logging.getLogger(__name__)

EXTERNAL_ID_MAX_LENGTH = Order._meta.get_field("external_id").max_length
SKU_MAX_LENGTH = OrderLine._meta.get_field("sku").max_length
PRODUCT_NAME_MAX_LENGTH = OrderLine._meta.get_field("product_name").max_length
CATEGORY_MAX_LENGTH = OrderLine._meta.get_field("category").max_length
# What the columns hold: amounts are numeric(12, 2), quantities integers, line numbers small integers.
MAX_AMOUNT = Decimal(10) ** 10
MAX_QUANTITY = 2**31 - 1
MAX_LINES = 32_767


@dataclass
class OrderLineData:
    """One line as a source system sends it. A returned article has a negative quantity and is_return=True."""

    sku: str
    quantity: int
    unit_price: Decimal | str
    product_name: str = ""
    category: str = ""
    is_return: bool = False


def to_house_currency(amount: Decimal, currency: str) -> Decimal:
    rate = settings.CURRENCY_RATES[currency]
    return (amount * rate).quantize(Decimal("0.01"))


def _clean_lines(lines: list[OrderLineData]) -> list[OrderLine]:
    if not lines:
        raise ApplicationError.for_field("lines", "An order needs at least one line.")
    if len(lines) > MAX_LINES:
        raise ApplicationError.for_field("lines", f"An order holds at most {MAX_LINES:,} lines.")
    cleaned: list[OrderLine] = []
    errors: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        where = f"lines[{number}]"
        sku = (line.sku or "").strip()
        if not sku:
            errors[f"{where}.sku"] = ["A line needs a SKU."]
        elif len(sku) > SKU_MAX_LENGTH:
            errors[f"{where}.sku"] = [f"A SKU holds at most {SKU_MAX_LENGTH} characters."]
        for name, limit in (("product_name", PRODUCT_NAME_MAX_LENGTH), ("category", CATEGORY_MAX_LENGTH)):
            if len((getattr(line, name) or "").strip()) > limit:
                errors[f"{where}.{name}"] = [f"Keep it under {limit + 1} characters."]
        try:
            quantity = int(line.quantity)
            if quantity != line.quantity and not isinstance(line.quantity, str):
                raise ValueError
        except (TypeError, ValueError):
            errors[f"{where}.quantity"] = [f"{line.quantity!r} is not a whole quantity."]
            continue
        if quantity == 0:
            errors[f"{where}.quantity"] = ["A line cannot have a quantity of zero."]
        elif abs(quantity) > MAX_QUANTITY:
            errors[f"{where}.quantity"] = [f"A quantity must stay under {MAX_QUANTITY:,}."]
        elif quantity < 0 and not line.is_return:
            errors[f"{where}.quantity"] = [f"Negative quantity {quantity} on a line that is not a return."]
        elif quantity > 0 and line.is_return:
            errors[f"{where}.quantity"] = ["A returned line must have a negative quantity."]
        try:
            unit_price = clean_amount(line.unit_price, field=f"{where}.unit_price")
        except ApplicationError as error:
            errors.update(error.fields)
            continue
        if unit_price < 0:
            errors[f"{where}.unit_price"] = ["A unit price cannot be negative."]
        elif unit_price >= MAX_AMOUNT:
            errors[f"{where}.unit_price"] = [f"An amount must stay under {MAX_AMOUNT:,}."]
        cleaned.append(
            OrderLine(
                line_number=number,
                sku=sku,
                product_name=(line.product_name or "").strip(),
                category=(line.category or "").strip(),
                quantity=quantity,
                unit_price=unit_price,
                is_return=bool(line.is_return),
            )
        )
    if errors:
        raise ApplicationError("Some order lines are invalid.", extra={"fields": errors})
    return cleaned


def order_lines_signature(lines: list[OrderLine]) -> list[tuple[Any, ...]]:
    """What makes two sets of lines the same: an order sent again with the same signature keeps its lines."""
    return [(line.sku, line.quantity, line.unit_price, line.is_return) for line in lines]


@dataclass
class CleanOrder:
    """An order's values as orders_record_many writes them, once order_clean has checked them (lines not saved)."""

    external_id: str
    placed_at: dt.datetime
    status: str
    channel: str
    currency: str
    total: Decimal
    total_house: Decimal
    lines: list[OrderLine]

    def fields(self) -> dict[str, Any]:
        """The order's own columns (all but its keys, client, boutique and advisor), as orders_record_many sets them."""
        return {
            "channel": self.channel,
            "placed_at": self.placed_at,
            "status": self.status,
            "currency": self.currency,
            "total": self.total,
            "total_house": self.total_house,
        }


def order_clean(
    *,
    source: str,
    external_id: str,
    placed_at: dt.datetime,
    currency: str,
    total: Decimal | str,
    lines: list[OrderLineData],
    status: str = Order.Status.PLACED,
    channel: str = Channel.BOUTIQUE,
) -> CleanOrder:
    """The rules an order must meet, without the database: orders_record_many applies them to every item (entry
    points that must refuse an order before writing anything else, such as the client it names, call it first).

    Raises ApplicationError naming the field at fault. The lines must add up to the total.
    """
    if source not in SourceSystem.values:
        raise ApplicationError.for_field("source", f"Unknown source system {source!r}.")
    external_id = external_id_check(external_id, field="external_id", max_length=EXTERNAL_ID_MAX_LENGTH)
    if not external_id:
        raise ApplicationError.for_field("external_id", "An order needs the id its source system gave it.")
    if placed_at.tzinfo is None:
        raise ApplicationError.for_field("placed_at", "The order time needs a time zone.")
    happened_at_check(placed_at, field="placed_at")
    if status not in Order.Status.values:
        raise ApplicationError.for_field("status", f"Unknown order status {status!r}.")
    if channel not in Channel.values:
        raise ApplicationError.for_field("channel", f"Unknown channel {channel!r}.")
    currency = (currency or "").strip().upper()
    if currency not in settings.CURRENCY_RATES:
        raise ApplicationError.for_field(
            "currency", f"No exchange rate for {currency!r}; known: {', '.join(sorted(settings.CURRENCY_RATES))}."
        )
    total = clean_amount(total, field="total")
    if abs(total) >= MAX_AMOUNT:
        raise ApplicationError.for_field("total", f"An amount must stay under {MAX_AMOUNT:,}.")
    order_lines = _clean_lines(lines)
    lines_total = sum((line.quantity * line.unit_price for line in order_lines), Decimal("0.00"))
    if lines_total != total:
        raise ApplicationError.for_field("total", f"The lines add up to {lines_total}, not {total}.")

    return CleanOrder(
        external_id=external_id,
        placed_at=placed_at,
        status=status,
        channel=channel,
        currency=currency,
        total=total,
        total_house=to_house_currency(total, currency),
        lines=order_lines,
    )


def order_lines_attach_products(lines: list[OrderLine], products: dict[str, Product]) -> None:
    """Link each line to the catalogue article of its SKU when there is one (an unknown SKU is kept as sent), and
    take the article's name and category where the line has none."""
    for line in lines:
        product = products.get(line.sku)
        if product is not None:
            line.product = product
            line.product_name = line.product_name or product.name
            line.category = line.category or product.category


@dataclass
class OrderItem:
    """One order to record, its client and references by id, its lines as the source system sends them."""

    source: str
    external_id: str
    customer_id: int
    placed_at: dt.datetime
    currency: str
    total: Decimal | str
    lines: list[OrderLineData]
    status: str = Order.Status.PLACED
    channel: str = Channel.BOUTIQUE
    boutique_id: int | None = None
    advisor_id: int | None = None


# An order's own columns as orders_record_many writes them (foreign keys by id), with their PostgreSQL types.
ORDER_COLUMN_TYPES = {
    "customer_id": "bigint",
    "boutique_id": "bigint",
    "advisor_id": "bigint",
    "channel": "text",
    "placed_at": "timestamptz",
    "status": "text",
    "currency": "text",
    "total": "numeric",
    "total_house": "numeric",
}
LINE_COLUMNS = ("line_number", "sku", "product_id", "product_name", "category", "quantity", "unit_price", "is_return")
_LINE_TYPES = ("integer", "text", "bigint", "text", "text", "integer", "numeric", "boolean")


@dataclass
class OrderResult:
    """What orders_record_many did with one item: created, updated, unchanged or refused (with the error).

    For an order created or updated: its client, and what it was before (`previous`: its columns; `previous_lines`:
    its lines as LINE_COLUMNS tuples), the columns and whether the lines changed, and the interactions it put on
    the timeline. An importer keeps these to take the batch back."""

    status: str
    record_id: int | None = None
    error: ApplicationError | None = None
    customer_id: int | None = None
    previous: dict[str, Any] | None = None
    previous_lines: list[tuple[Any, ...]] = field(default_factory=list)
    changed_fields: list[str] = field(default_factory=list)
    lines_changed: bool = False
    interaction_ids: list[int] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return self.error.message if self.error is not None else ""

    @property
    def is_written(self) -> bool:
        return self.status in (Status.CREATED, Status.UPDATED)


@dataclass
class _Entry:
    index: int
    item: OrderItem
    clean: CleanOrder

    @property
    def key(self) -> tuple[str, str]:
        return self.item.source, self.clean.external_id

    def fields(self) -> dict[str, Any]:
        return {"customer_id": self.item.customer_id, "boutique_id": self.item.boutique_id,
                "advisor_id": self.item.advisor_id, **self.clean.fields()}


@dataclass
class _Existing:
    pk: int
    fields: dict[str, Any]
    updated_at: dt.datetime
    lines: list[tuple[Any, ...]] = field(default_factory=list)


@transaction.atomic
def orders_record_many(
    *, items: Sequence[OrderItem], refresh_metrics: bool = True, now: dt.datetime | None = None
) -> list[OrderResult]:
    """Record many sales (or changes to them: fulfilment, cancellation, return) idempotently by (source, external
    id), each checked with order_clean, with their lines, their place on the timeline and their clients' metrics,
    in one transaction and a handful of statements for the batch. One result per item, in order.

    An order sent again unchanged is unchanged; with another status, client, other lines … it is updated (its lines
    replaced when they differ). The same order twice in a batch is applied in turn, as two calls would. The clients'
    metrics are refreshed once for the batch (`refresh_metrics=False`: the caller refreshes them itself).
    """
    now = now or timezone.now()
    results: list[OrderResult | None] = [None] * len(items)
    pending: list[_Entry] = []
    for index, item in enumerate(items):
        try:
            clean = order_clean(
                source=item.source, external_id=item.external_id, placed_at=item.placed_at, currency=item.currency,
                total=item.total, lines=item.lines, status=item.status, channel=item.channel,
            )
        except ApplicationError as error:
            results[index] = OrderResult(status=Status.REFUSED, error=error)
            continue
        pending.append(_Entry(index=index, item=item, clean=clean))

    types: dict[str, TouchpointType] = {}
    if pending:
        types = {t.code: t for t in TouchpointType.objects.filter(code__in=("purchase", "return"))}
        if len(types) != 2:
            raise ApplicationError("The touchpoint types purchase and return are missing; orders cannot be recorded.")
    touched: set[int] = set()
    while pending:
        # Each key once a round; a key repeated in the batch goes in the next round, on top of the first.
        seen: set[tuple[str, str]] = set()
        this_round: list[_Entry] = []
        later: list[_Entry] = []
        for entry in pending:
            (later if entry.key in seen else this_round).append(entry)
            seen.add(entry.key)
        _record_round(this_round, results, types=types, now=now, touched=touched)
        pending = later

    if refresh_metrics and touched:
        customer_metrics_refresh(customer_ids=sorted(touched), now=now)
    logger.info("touchpoints.orders_recorded items=%s written=%s", len(items),
                sum(result is not None and result.is_written for result in results))
    return results  # type: ignore[return-value]


def _record_round(entries: list[_Entry], results: list[OrderResult | None], *, types: dict[str, TouchpointType],
                  now: dt.datetime, touched: set[int]) -> None:
    """Write entries whose keys are distinct: new orders inserted, known ones locked, compared and updated."""
    existing = _lock_existing([entry.key for entry in entries])
    new = [entry for entry in entries if entry.key not in existing]
    inserted = _insert_orders(new, now=now)
    lost = [entry.key for entry in new if entry.key not in inserted]
    if lost:
        # The same order was recorded at the same time by another call: it is there now, compared as a replay.
        existing.update(_lock_existing(lost))

    written: list[tuple[_Entry, Order, str | None]] = []  # entry, the order as saved, its status before
    updates: list[tuple[int, dict[str, Any]]] = []
    replaced: list[int] = []
    moved: list[tuple[int, int]] = []
    line_rows: list[tuple[int, OrderLine]] = []
    for entry in entries:
        fields = entry.fields()
        if entry.key in inserted:
            pk, updated_at = inserted[entry.key]
            results[entry.index] = OrderResult(status=Status.CREATED, record_id=pk, customer_id=fields["customer_id"],
                                               lines_changed=True)
            line_rows += [(pk, line) for line in entry.clean.lines]
            written.append((entry, _as_saved(entry, fields, pk, updated_at), None))
            touched.add(fields["customer_id"])
            continue
        before = existing[entry.key]
        changed = [name for name, value in fields.items() if before.fields[name] != value]
        lines_changed = [(line[1], line[5], line[6], line[7]) for line in before.lines] != order_lines_signature(
            entry.clean.lines)
        if not changed and not lines_changed:
            results[entry.index] = OrderResult(status=Status.UNCHANGED, record_id=before.pk,
                                               customer_id=before.fields["customer_id"])
            continue
        results[entry.index] = OrderResult(
            status=Status.UPDATED, record_id=before.pk, customer_id=fields["customer_id"], previous=before.fields,
            previous_lines=before.lines, changed_fields=changed, lines_changed=lines_changed,
        )
        if changed:
            updates.append((before.pk, fields))
        if lines_changed:
            replaced.append(before.pk)
            line_rows += [(before.pk, line) for line in entry.clean.lines]
        if "customer_id" in changed:
            moved.append((before.pk, fields["customer_id"]))
        written.append((entry, _as_saved(entry, fields, before.pk, now if changed else before.updated_at),
                        before.fields["status"]))
        touched.update({fields["customer_id"], before.fields["customer_id"]})

    with connection.cursor() as cursor:
        if updates:
            names = list(ORDER_COLUMN_TYPES)
            arrays = ", ".join(["%s::bigint[]", *(f"%s::{ORDER_COLUMN_TYPES[name]}[]" for name in names)])
            cursor.execute(
                f"UPDATE {Order._meta.db_table} AS o SET {', '.join(f'{name} = v.{name}' for name in names)}, "  # noqa: S608
                f"updated_at = %s FROM unnest({arrays}) AS v(id, {', '.join(names)}) WHERE o.id = v.id",
                [now, [pk for pk, _fields in updates], *([fields[name] for _pk, fields in updates] for name in names)],
            )
        if replaced:
            cursor.execute(f"DELETE FROM {OrderLine._meta.db_table} WHERE order_id = ANY(%s)", [replaced])  # noqa: S608
        if line_rows:
            lines = [line for _pk, line in line_rows]
            products = {p.sku: p for p in Product.objects.filter(sku__in={line.sku for line in lines})}
            order_lines_attach_products(lines, products)
            arrays = ", ".join(["%s::bigint[]", *(f"%s::{kind}[]" for kind in _LINE_TYPES)])
            cursor.execute(
                f"INSERT INTO {OrderLine._meta.db_table} (order_id, {', '.join(LINE_COLUMNS)}) "  # noqa: S608
                f"SELECT * FROM unnest({arrays})",
                [[pk for pk, _line in line_rows],
                 *([getattr(line, name) for _pk, line in line_rows] for name in LINE_COLUMNS)],
            )
        if moved:
            cursor.execute(
                f"UPDATE {Interaction._meta.db_table} AS i SET customer_id = v.customer_id "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(order_id, customer_id) WHERE i.order_id = v.order_id",
                [[pk for pk, _customer in moved], [customer for _pk, customer in moved]],
            )

    timeline: list[tuple[int, InteractionItem]] = []
    for entry, order, previous_status in written:
        for timeline_entry in order_timeline(order, previous_status=previous_status):
            timeline.append((entry.index, InteractionItem(
                customer_id=order.customer_id, touchpoint_type=types[timeline_entry.touchpoint_type],
                occurred_at=timeline_entry.occurred_at, source=order.source, external_id=timeline_entry.external_id,
                channel=order.channel, boutique_id=order.boutique_id, advisor_id=order.advisor_id,
                amount=timeline_entry.amount, currency=order.currency, metadata=timeline_entry.metadata,
                order_id=order.pk,
            )))
    recorded = interactions_record_many(items=[item for _index, item in timeline])
    for (index, _item), outcome in zip(timeline, recorded, strict=True):
        if outcome.error is not None:
            raise outcome.error
        if outcome.status == Status.CREATED:
            results[index].interaction_ids.append(outcome.record_id)  # type: ignore[union-attr]


def _as_saved(entry: _Entry, fields: dict[str, Any], pk: int, updated_at: dt.datetime) -> Order:
    """The order as saved, in memory (no query): what order_timeline reads."""
    return Order(pk=pk, source=entry.item.source, external_id=entry.clean.external_id, updated_at=updated_at,
                 **fields)


def _lock_existing(keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Existing]:
    """The orders of these keys already recorded, locked (in key order, so that two batches never deadlock), with
    their lines: two queries."""
    if not keys:
        return {}
    keys = sorted(set(keys))
    names = list(ORDER_COLUMN_TYPES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.source, o.external_id, o.id, o.updated_at, {', '.join(f'o.{name}' for name in names)} "  # noqa: S608
            f"FROM {Order._meta.db_table} AS o "
            "JOIN unnest(%s::text[], %s::text[]) AS k(source, external_id) "
            "ON o.source = k.source AND o.external_id = k.external_id "
            "ORDER BY o.source, o.external_id FOR UPDATE OF o",
            [[key[0] for key in keys], [key[1] for key in keys]],
        )
        found = {
            (source, external_id): _Existing(pk=pk, updated_at=updated_at,
                                             fields=dict(zip(names, values, strict=True)))
            for source, external_id, pk, updated_at, *values in cursor.fetchall()
        }
        if not found:
            return {}
        by_pk = {item.pk: item for item in found.values()}
        cursor.execute(
            f"SELECT order_id, {', '.join(LINE_COLUMNS)} FROM {OrderLine._meta.db_table} "  # noqa: S608
            "WHERE order_id = ANY(%s) ORDER BY order_id, line_number",
            [list(by_pk)],
        )
        for order_id, *line in cursor.fetchall():
            by_pk[order_id].lines.append(tuple(line))
    return found


def _insert_orders(entries: list[_Entry], *, now: dt.datetime) -> dict[tuple[str, str], tuple[int, dt.datetime]]:
    """Insert the new orders in one statement; returns (id, updated_at) by key for those written (one another call
    recorded first is skipped, and compared as a replay)."""
    if not entries:
        return {}
    names = list(ORDER_COLUMN_TYPES)
    arrays = ", ".join(["%s::text[]", "%s::text[]", *(f"%s::{ORDER_COLUMN_TYPES[name]}[]" for name in names)])
    rows = [entry.fields() for entry in entries]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Order._meta.db_table} (source, external_id, {', '.join(names)}, created_at, updated_at) "  # noqa: S608
            f"SELECT *, %s::timestamptz, %s::timestamptz FROM unnest({arrays}) "
            "ON CONFLICT (source, external_id) DO NOTHING RETURNING source, external_id, id, updated_at",
            [now, now, [entry.key[0] for entry in entries], [entry.key[1] for entry in entries],
             *([row[name] for row in rows] for name in names)],
        )
        return {(source, external_id): (pk, updated_at) for source, external_id, pk, updated_at in cursor.fetchall()}


def order_record(
    *,
    source: str,
    external_id: str,
    customer: Customer,
    placed_at: dt.datetime,
    currency: str,
    total: Decimal | str,
    lines: list[OrderLineData],
    status: str = Order.Status.PLACED,
    channel: str = Channel.BOUTIQUE,
    boutique: Boutique | None = None,
    advisor: Advisor | None = None,
) -> RecordResult:
    """Record a sale (or a change to it: fulfilment, cancellation, return) idempotently by (source, external id):
    orders_record_many with one item. Raises ApplicationError naming the field at fault.

    The lines must add up to the total. Sending the same order again changes nothing (created=False,
    changed=False); sending it with another status or other lines updates it (changed=True).
    """
    [result] = orders_record_many(items=[OrderItem(
        source=source, external_id=external_id, customer_id=customer.pk, placed_at=placed_at, currency=currency,
        total=total, lines=lines, status=status, channel=channel, boutique_id=boutique.pk if boutique else None,
        advisor_id=advisor.pk if advisor else None,
    )])
    if result.error is not None:
        raise result.error
    order = Order.objects.get(pk=result.record_id)
    return RecordResult(record=order, created=result.status == Status.CREATED,
                        changed=result.status != Status.UNCHANGED)


@dataclass(frozen=True)
class TimelineEntry:
    """An interaction an order puts on its client's timeline; client, channel, boutique … are the order's."""

    touchpoint_type: str
    occurred_at: dt.datetime
    external_id: str
    amount: Decimal
    metadata: dict[str, Any] | None = None


def order_timeline(order: Order, *, previous_status: str | None) -> list[TimelineEntry]:
    """What a new order (previous_status None) or a changed one puts on the timeline: a purchase (a return receipt
    is a return), then a return when it has just become returned. Reads only the order's own columns."""
    entries = []
    if previous_status is None:
        is_return_receipt = order.total < 0
        entries.append(
            TimelineEntry(
                touchpoint_type="return" if is_return_receipt else "purchase",
                occurred_at=order.placed_at,
                external_id=f"order:{order.external_id}",
                amount=abs(order.total),
                metadata={"status": order.status},
            )
        )
    if order.status == Order.Status.RETURNED and previous_status != Order.Status.RETURNED:
        entries.append(
            TimelineEntry(
                touchpoint_type="return",
                occurred_at=max(order.placed_at, order.updated_at),
                external_id=f"order:{order.external_id}:returned",
                amount=abs(order.total),
            )
        )
    return entries


