"""Recording sales from the POS and ecommerce, with their lines, returns and cancellations."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from core.external_ids import external_id_check
from core.moments import happened_at_check
from customers.models import Advisor, Boutique, Channel, Customer, SourceSystem
from touchpoints.models import Interaction, Order, OrderLine, Product
from touchpoints.services.interactions import RecordResult, clean_amount, interaction_record
from touchpoints.services.metrics import customer_metrics_refresh

logger = logging.getLogger(__name__)

EXTERNAL_ID_MAX_LENGTH = Order._meta.get_field("external_id").max_length


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
    cleaned: list[OrderLine] = []
    errors: dict[str, list[str]] = {}
    for number, line in enumerate(lines, start=1):
        where = f"lines[{number}]"
        sku = (line.sku or "").strip()
        if not sku:
            errors[f"{where}.sku"] = ["A line needs a SKU."]
        try:
            quantity = int(line.quantity)
            if quantity != line.quantity and not isinstance(line.quantity, str):
                raise ValueError
        except (TypeError, ValueError):
            errors[f"{where}.quantity"] = [f"{line.quantity!r} is not a whole quantity."]
            continue
        if quantity == 0:
            errors[f"{where}.quantity"] = ["A line cannot have a quantity of zero."]
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
    """An order's values as order_record writes them, once order_clean has checked them (lines not saved)."""

    external_id: str
    placed_at: dt.datetime
    status: str
    channel: str
    currency: str
    total: Decimal
    total_house: Decimal
    lines: list[OrderLine]

    def fields(self) -> dict[str, Any]:
        """The order's own columns (all but its keys, client, boutique and advisor), as order_record sets them."""
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
    """The rules an order must meet, without the database: order_record and the order import both apply them.

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


@transaction.atomic
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
    """Record a sale (or a change to it: fulfilment, cancellation, return) idempotently by (source, external id),
    put it on the client's timeline and bring the client's metrics up to date, in one transaction.

    The lines must add up to the total. Sending the same order again changes nothing (created=False,
    changed=False); sending it with another status or other lines updates it (changed=True).
    """
    clean = order_clean(
        source=source, external_id=external_id, placed_at=placed_at, currency=currency, total=total, lines=lines,
        status=status, channel=channel,
    )
    external_id, order_lines = clean.external_id, clean.lines

    fields = {
        "customer": customer,
        "boutique": boutique,
        "advisor": advisor,
        **clean.fields(),
    }
    order = Order.objects.select_for_update().filter(source=source, external_id=external_id).first()
    created = order is None
    previous_customer_id = None if created else order.customer_id
    previous_status = None if created else order.status
    if created:
        try:
            with transaction.atomic():
                order = Order.objects.create(source=source, external_id=external_id, **fields)
        except IntegrityError:
            # The same order arrived twice at once; the other call recorded it. Treat this one as a replay.
            order = Order.objects.select_for_update().get(source=source, external_id=external_id)
            created, previous_customer_id, previous_status = False, order.customer_id, order.status
    changed = created
    if not created:
        changed_fields = [name for name, value in fields.items() if getattr(order, name) != value]
        existing_lines = list(order.lines.all())
        lines_changed = order_lines_signature(existing_lines) != order_lines_signature(order_lines)
        if changed_fields:
            for name in changed_fields:
                setattr(order, name, fields[name])
            order.save(update_fields=[*changed_fields, "updated_at"])
        if lines_changed:
            order.lines.all().delete()
        changed = bool(changed_fields) or lines_changed
        if not lines_changed:
            order_lines = []
    if order_lines:
        products = {p.sku: p for p in Product.objects.filter(sku__in={line.sku for line in order_lines})}
        order_lines_attach_products(order_lines, products)
        for line in order_lines:
            line.order = order
        OrderLine.objects.bulk_create(order_lines)

    if changed:
        _record_on_timeline(order, previous_status=previous_status)
        customer_metrics_refresh(customer_ids={order.customer_id, previous_customer_id} - {None})
        if previous_customer_id and previous_customer_id != order.customer_id:
            Interaction.objects.filter(order=order).update(customer=order.customer)
    logger.info("touchpoints.order_recorded order_id=%s created=%s changed=%s", order.pk, created, changed)
    return RecordResult(record=order, created=created, changed=changed)


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


def _record_on_timeline(order: Order, *, previous_status: str | None) -> None:
    """An order is a purchase on the timeline (a return receipt is a return); a later full return is another."""
    for entry in order_timeline(order, previous_status=previous_status):
        interaction_record(
            customer=order.customer,
            touchpoint_type=entry.touchpoint_type,
            occurred_at=entry.occurred_at,
            source=order.source,
            external_id=entry.external_id,
            channel=order.channel,
            boutique=order.boutique,
            advisor=order.advisor,
            amount=entry.amount,
            currency=order.currency,
            metadata=entry.metadata,
            order=order,
        )
