"""Cleaning the rows of an order file (one row per order line) and putting each order's lines together.

Pure: no query. The order is the unit: `clean_order` reads all the lines of one order (contiguous in the file) and
either returns the order as orders_record_many would write it (its rules applied through touchpoints' order_clean, the
same function orders_record_many calls) or raises OrderRefused with an error for every line, so that no half order is
ever written. Values go through imports.parsing (dates in the mapping's order, local time of the boutique when the
file gives no offset, decimal commas, currency symbols) and customers.normalizers (the client's email and phone).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.errors import ApplicationError
from customers.models import Channel, SourceSystem
from imports.kinds.common import advisor_of, boutique_of, client_key
from imports.kinds.customers import CustomerImportContext, RowError, row_cells, unescape_cell
from imports.mapping import ColumnMapping
from imports.parsing import parse_bool, parse_currency_code, parse_datetime, parse_decimal, parse_int
from imports.pipeline.clients import ClientKey
from imports.reader import SourceRow
from touchpoints.models import Order, OrderLine
from touchpoints.services.orders import CleanOrder, OrderLineData, order_clean

# The order's columns, repeated on each of its lines: they must be the same on every line.
ORDER_LEVEL_FIELDS = (
    "source", "order_id", "public_id", "crm_id", "pos_id", "ecommerce_id", "email", "phone", "boutique", "advisor",
    "channel", "placed_at", "status", "is_cancelled", "currency", "order_total",
)
SOURCE_SYSTEMS = frozenset(SourceSystem.values)
# How legacy systems spell the statuses; anything else goes to order_clean as written.
STATUS_WORDS = {"canceled": Order.Status.CANCELLED, "cancelled": Order.Status.CANCELLED, "": Order.Status.PLACED}
# Where order_clean's field names sit in a file.
ORDER_FIELD_COLUMNS = {"total": "order_total", "external_id": "order_id"}
_LINE_FIELD = re.compile(r"lines\[(\d+)\]\.(\w+)")
SKU_LENGTH = OrderLine._meta.get_field("sku").max_length
TEXT_LENGTHS = {name: OrderLine._meta.get_field(name).max_length for name in ("product_name", "category")}
EXTERNAL_ID_LENGTH = Order._meta.get_field("external_id").max_length


@dataclass
class OrderImportContext(CustomerImportContext):
    """The client import's reference tables (boutiques by code, advisors by email), and each boutique's time zone."""

    zones: dict[int, zoneinfo.ZoneInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, *, mapping: ColumnMapping, started_at: dt.datetime) -> OrderImportContext:
        reference = CustomerImportContext.load(mapping=mapping, started_at=started_at)
        zones = {boutique.pk: zoneinfo.ZoneInfo(boutique.timezone) for boutique in reference.boutiques.values()}
        return cls(**vars(reference), zones=zones)


@dataclass
class OrderHeader:
    """The order's columns of one order, cleaned."""

    source: str
    external_id: str
    client: ClientKey
    boutique_id: int | None
    advisor_id: int | None
    channel: str
    placed_at: dt.datetime
    status: str
    currency: str
    total: Decimal


@dataclass
class ImportedOrder:
    """One order of the file as orders_record_many would write it: its header, its checked lines, its file lines."""

    header: OrderHeader
    clean: CleanOrder
    lines: list[int]

    @property
    def key(self) -> tuple[str, str]:
        return (self.header.source, self.header.external_id)


class OrderRefused(Exception):
    """An order refused: one (line, field, message) for every line of it, the field being an Atelier field."""

    def __init__(self, errors: list[tuple[int, str | None, str]]) -> None:
        super().__init__(errors[0][2] if errors else "")
        self.errors = errors


def cells_of(row: SourceRow) -> dict[str, str]:
    """The row's cells with the one leading apostrophe of Atelier's exports dropped, stripped."""
    return {name: unescape_cell(value).strip() for name, value in row.values.items()}


def order_key(cells: dict[str, str]) -> tuple[str, str]:
    """(source, order id): the lines of one order share it."""
    return (cells.get("source", "").lower(), cells.get("order_id", ""))


def row_order_key(row: SourceRow) -> tuple[str, str]:
    """(source, order id) of a row, read as clean_order reads it: how the pipeline groups and chunks lines."""
    return order_key({name: unescape_cell(row.values.get(name, "")).strip() for name in ("source", "order_id")})


def describe(key: tuple[str, str]) -> str:
    return f"{key[0] or '?'}:{key[1] or '?'}"


def clean_order_header(cells: dict[str, str], context: OrderImportContext) -> OrderHeader:
    """The order's columns of a line, or RowError naming the field at fault."""
    mapping = context.mapping
    source, external_id = order_key(cells)
    if not source:
        raise RowError("source", f"An order needs its source system ({', '.join(SourceSystem.values)}).")
    if source not in SOURCE_SYSTEMS:
        raise RowError("source", f"{source} is not a source system; use one of {', '.join(SourceSystem.values)}.")
    if not external_id:
        raise RowError("order_id", "An order needs the id its source system gave it.")
    if len(external_id) > EXTERNAL_ID_LENGTH:
        raise RowError("order_id", f"{external_id[:20]}… is longer than {EXTERNAL_ID_LENGTH} characters.")

    boutique = boutique_of(cells, context)
    advisor = advisor_of(cells, context)
    # Local times and local phone numbers are the boutique's.
    zone = context.zones[boutique.pk] if boutique else context.time_zone
    client = client_key(cells, region=(boutique.country if boutique else None) or mapping.default_region)
    try:
        placed_at = parse_datetime(cells.get("placed_at"), order=mapping.date_order, tz=zone)
    except ValueError as exc:
        raise RowError("placed_at", str(exc)) from None
    if placed_at is None:
        raise RowError("placed_at", "An order needs the moment it was placed.")

    status = cells.get("status", "").lower()
    status = STATUS_WORDS.get(status, status)
    try:
        if parse_bool(cells.get("is_cancelled")):
            status = Order.Status.CANCELLED
    except ValueError as exc:
        raise RowError("is_cancelled", str(exc)) from None
    # A web shop's orders are on the web unless the file says otherwise; orders_record_many's default is the boutique.
    channel = cells.get("channel", "").lower() or (
        Channel.WEB if source == SourceSystem.ECOMMERCE else Channel.BOUTIQUE
    )
    try:
        currency = parse_currency_code(cells.get("currency")) or ""
    except ValueError as exc:
        raise RowError("currency", str(exc)) from None
    if not currency:
        raise RowError("currency", "An order needs its currency.")
    try:
        total = parse_decimal(cells.get("order_total"), decimal_comma=mapping.decimal_comma)
    except ValueError as exc:
        raise RowError("order_total", str(exc)) from None
    if total is None:
        raise RowError("order_total", "An order needs its total.")
    return OrderHeader(
        source=source,
        external_id=external_id,
        client=client,
        boutique_id=boutique.pk if boutique else None,
        advisor_id=advisor.pk if advisor else None,
        channel=channel,
        placed_at=placed_at,
        status=status,
        currency=currency,
        total=total,
    )


def clean_order_line(row: SourceRow, cells: dict[str, str], context: OrderImportContext) -> tuple[
    int | None, OrderLineData
]:
    """The line's own columns (its line number, and the line as orders_record_many takes it), or RowError."""
    if row.extra:
        row_cells(row)  # refuses the row, saying a delimiter inside a cell was probably not quoted
    try:
        line_number = parse_int(cells.get("line_number"))
    except ValueError as exc:
        raise RowError("line_number", str(exc)) from None
    sku = cells.get("sku", "")
    if len(sku) > SKU_LENGTH:
        raise RowError("sku", f"{sku[:20]}… is longer than {SKU_LENGTH} characters.")
    for name, limit in TEXT_LENGTHS.items():
        if limit and len(cells.get(name, "")) > limit:
            raise RowError(name, f"{cells[name][:20]}… is longer than {limit} characters.")
    try:
        quantity = parse_int(cells.get("quantity"))
    except ValueError as exc:
        raise RowError("quantity", str(exc)) from None
    if quantity is None:
        raise RowError("quantity", "A line needs its quantity.")
    try:
        unit_price = parse_decimal(cells.get("unit_price"), decimal_comma=context.mapping.decimal_comma)
    except ValueError as exc:
        raise RowError("unit_price", str(exc)) from None
    if unit_price is None:
        raise RowError("unit_price", "A line needs its unit price.")
    try:
        is_return = bool(parse_bool(cells.get("is_return")))
    except ValueError as exc:
        raise RowError("is_return", str(exc)) from None
    return line_number, OrderLineData(
        sku=sku,
        quantity=quantity,
        unit_price=unit_price,
        product_name=cells.get("product_name", ""),
        category=cells.get("category", ""),
        is_return=is_return,
    )


def clean_order(rows: list[SourceRow], context: OrderImportContext) -> ImportedOrder:
    """All the lines of one order, checked together with order_clean; OrderRefused names every line."""
    all_cells = [cells_of(row) for row in rows]
    first = all_cells[0]
    key = order_key(first)
    errors: dict[int, tuple[str | None, str]] = {}
    first_order_cells = [first.get(name, "") for name in ORDER_LEVEL_FIELDS]

    header: OrderHeader | None = None
    try:
        header = clean_order_header(first, context)
    except RowError as error:
        # The order's columns are on every line: each line carries the same defect.
        for row in rows:
            errors[row.line] = (error.field, error.message)

    lines: list[tuple[int, int | None, OrderLineData]] = []
    numbers: dict[int, int] = {}
    for row, cells in zip(rows, all_cells, strict=True):
        if row.line in errors:
            continue
        differing = next(
            (name for name, value in zip(ORDER_LEVEL_FIELDS, first_order_cells, strict=True)
             if cells.get(name, "") != value),
            None,
        )
        if differing is not None:
            given = first_order_cells[ORDER_LEVEL_FIELDS.index(differing)]
            errors[row.line] = (
                differing,
                f"This line gives {cells.get(differing, '')!r} where line {rows[0].line}, the first of order "
                f"{describe(key)}, gives {given!r}: the lines of one order must give the same {differing}.",
            )
            continue
        try:
            line_number, data = clean_order_line(row, cells, context)
        except RowError as error:
            errors[row.line] = (error.field, error.message)
            continue
        if line_number is not None:
            if line_number in numbers:
                errors[row.line] = (
                    "line_number",
                    f"Line number {line_number} of order {describe(key)} is already on line {numbers[line_number]}.",
                )
                continue
            numbers[line_number] = row.line
        lines.append((row.line, line_number, data))

    clean = None
    if not errors and header is not None:
        # The file's line numbers put the lines in order; without them, the file's order.
        if numbers:
            lines.sort(key=lambda item: item[1] if item[1] is not None else 0)
        try:
            clean = order_clean(
                source=header.source,
                external_id=header.external_id,
                placed_at=header.placed_at,
                currency=header.currency,
                total=header.total,
                lines=[data for _line, _number, data in lines],
                status=header.status,
                channel=header.channel,
            )
        except ApplicationError as error:
            _order_clean_errors(error, [line for line, _number, _data in lines], errors)
    if errors or clean is None or header is None:
        raise OrderRefused(_every_line(rows, errors, key))
    return ImportedOrder(header=header, clean=clean, lines=[row.line for row in rows])


def _order_clean_errors(error: ApplicationError, lines: list[int], errors: dict[int, tuple[str | None, str]]) -> None:
    """order_clean's refusal, on the lines it is about: a line's own field on that line, the order's on all."""
    fields: dict[str, Any] = error.fields or {"": [error.message]}
    for name, messages in fields.items():
        message = messages[0] if messages else error.message
        match = _LINE_FIELD.fullmatch(name)
        if match:
            position, field = int(match[1]), match[2]
            errors.setdefault(lines[position - 1], (field, message))
        else:
            for line in lines:
                errors.setdefault(line, (ORDER_FIELD_COLUMNS.get(name, name) or None, message))


def _every_line(
    rows: list[SourceRow], errors: dict[int, tuple[str | None, str]], key: tuple[str, str]
) -> list[tuple[int, str | None, str]]:
    """An error for each line: its own, or that its order is refused for another line's (no half order)."""
    first_bad = min(errors) if errors else rows[0].line
    return [
        (row.line, *errors[row.line])
        if row.line in errors
        else (row.line, None, f"Order {describe(key)} is not imported: its line {first_bad} is invalid.")
        for row in rows
    ]
