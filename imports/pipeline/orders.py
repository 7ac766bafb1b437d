"""The set-based import of an order file (one row per order line): streamed in chunks that never split an order.

Per chunk: exact repeated lines are skipped; the lines are put together into orders (contiguous in the file) and
each order is checked whole with order_record's rules (imports.kinds.orders), so that an order with one bad line is
refused with all its lines; the clients are found with find_clients (never created); the orders already in Atelier
are loaded with their lines in two queries and compared, as order_record compares them: identical → "unchanged",
different → "updated" (its fields, and its lines replaced when they differ). Then the chunk is written with a few
statements: the orders, their lines, the interactions order_record puts on the timeline (order_timeline), the
clients' last interaction and metrics (customer_metrics_refresh), and one ImportChange per order created or updated.

Counts are per order: new, updated, unchanged and invalid count orders; skipped counts the lines that repeat an
earlier line exactly (they belong to an order counted once under its own outcome).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from core.errors import ApplicationError
from imports.kinds.interactions import _last_interaction_moved_on
from imports.kinds.orders import (
    ImportedOrder,
    OrderImportContext,
    OrderRefused,
    clean_order,
    describe,
    row_order_key,
)
from imports.kinds_fields import CLIENT_KEY_FIELDS
from imports.models import ImportBatch, ImportChange
from imports.pipeline.batches import RowOutcomes, run_batch
from imports.pipeline.clients import ClientNotFound, find_clients
from imports.pipeline.constants import CHUNK_SIZE, DUPLICATE_WINDOW, Progress
from imports.pipeline.records import jsonable
from imports.pipeline.sql import _insert
from imports.pipeline.state import _Change
from imports.reader import SourceRow, SourceTable
from touchpoints.events import interactions_recorded
from touchpoints.models import Interaction, Order, OrderLine, Product, TouchpointType
from touchpoints.services import customer_metrics_refresh
from touchpoints.services.orders import order_lines_attach_products, order_lines_signature, order_timeline

logger = logging.getLogger(__name__)

# An order's columns as order_record sets them (foreign keys by id), with their PostgreSQL types.
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
LINE_COLUMN_TYPES = {
    "order_id": "bigint",
    "line_number": "integer",
    "sku": "text",
    "product_id": "bigint",
    "product_name": "text",
    "category": "text",
    "quantity": "integer",
    "unit_price": "numeric",
    "is_return": "boolean",
}
INTERACTION_COLUMN_TYPES = {
    "customer_id": "bigint",
    "touchpoint_type_id": "bigint",
    "occurred_at": "timestamptz",
    "channel": "text",
    "boutique_id": "bigint",
    "advisor_id": "bigint",
    "source": "text",
    "external_id": "text",
    "amount": "numeric",
    "currency": "text",
    "order_id": "bigint",
    "metadata": "jsonb",
}
# Orders remembered (key -> first line) to recognise an order whose lines come back later in the file.
ORDER_WINDOW = DUPLICATE_WINDOW
COUNTED_AS = "Counts are per order; skipped counts lines repeating an earlier line exactly."


@dataclass
class _Written:
    """An order the chunk creates or updates: as saved (in memory), what it was, whether its lines are written."""

    order: Order
    imported: ImportedOrder
    previous: _Existing | None
    writes_lines: bool


@dataclass
class _Existing:
    """An order already in Atelier, as the chunk compares it."""

    pk: int
    fields: dict[str, Any]
    lines: list[tuple[Any, ...]]  # (line_number, sku, product_id, product_name, category, quantity, unit_price, …)


def _order_chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    """Chunks of about `size` rows that end where an order ends (its lines are contiguous in the file)."""
    chunk: list[SourceRow] = []
    last_key = None
    for row in rows:
        key = row_order_key(row)
        if len(chunk) >= size and key != last_key:
            yield chunk
            chunk = []
        chunk.append(row)
        last_key = key
    if chunk:
        yield chunk


def run_order_import(
    *, batch: ImportBatch, table: SourceTable, dry_run: bool, valid_only: bool, progress: Progress | None = None
) -> None:
    """Import an order file into Atelier as one batch: all or nothing (unless `valid_only`), or a dry run.

    Leaves `batch` with its status, counts (per order), preview and row errors (per line) saved.
    """
    context = OrderImportContext.load(mapping=table.mapping, started_at=batch.started_at or timezone.now())
    run = _OrderRun(batch=batch, table=table, context=context)
    run_batch(
        batch=batch, table=table, run=run, dry_run=dry_run, valid_only=valid_only, progress=progress,
        chunks=_order_chunks(table, CHUNK_SIZE),
    )


class _OrderRun(RowOutcomes):
    """The state of one order import across its chunks: outcomes, recent orders, reference ids."""

    def __init__(self, *, batch: ImportBatch, table: SourceTable, context: OrderImportContext) -> None:
        super().__init__(table=table)
        self.preview["counted_as"] = COUNTED_AS  # type: ignore[assignment]
        self.batch = batch
        self.context = context
        self._recent_orders: dict[tuple[str, str], int] = {}
        self._content_types = {model: ContentType.objects.get_for_model(model) for model in (Order, Interaction)}
        types = dict(TouchpointType.objects.filter(code__in=("purchase", "return")).values_list("code", "pk"))
        if len(types) != 2:
            raise ApplicationError("The touchpoint types purchase and return are missing; orders cannot be imported.")
        self._touchpoint_types = types

    # --- Outcomes ---------------------------------------------------------------------------------------------

    def _refuse(self, rows: list[SourceRow], errors: list[tuple[int, str | None, str]]) -> None:
        """One invalid order; a row error for each of its lines."""
        by_line = {row.line: row for row in rows}
        for line, field_name, message in errors:
            column = (self.table.header_for.get(field_name) or field_name) if field_name else ""
            self.errors.add(line, column, message, by_line[line].raw)
        line, field_name, message = errors[0]
        column = (self.table.header_for.get(field_name) or field_name) if field_name else ""
        self.outcome("invalid", rows[0], order=describe(row_order_key(rows[0])), lines=len(rows), column=column,
                     message=message)

    def _order_outcome(self, outcome: str, order: ImportedOrder, row: SourceRow, **details: Any) -> None:
        self.outcome(outcome, row, order=describe(order.key), lines=len(order.lines), **details)

    # --- One chunk --------------------------------------------------------------------------------------------

    def process(self, rows: list[SourceRow]) -> None:
        groups: list[tuple[tuple[str, str], list[SourceRow]]] = []
        for row in rows:
            if not self.admit(row):
                continue
            key = row_order_key(row)
            if groups and groups[-1][0] == key:
                groups[-1][1].append(row)
            else:
                groups.append((key, [row]))

        orders: list[tuple[ImportedOrder, list[SourceRow]]] = []
        for key, group in groups:
            earlier = self._recent_orders.get(key)
            self._recent_orders[key] = earlier or group[0].line
            if len(self._recent_orders) > ORDER_WINDOW:
                del self._recent_orders[next(iter(self._recent_orders))]
            if earlier is not None:
                self._refuse(group, self._apart(group, key, f"from line {earlier}"))
                continue
            try:
                orders.append((clean_order(group, self.context), group))
            except OrderRefused as refused:
                self._refuse(group, refused.errors)
        if not orders:
            return

        found = find_clients(order.header.client for order, _rows in orders)
        placed: list[tuple[ImportedOrder, list[SourceRow], int]] = []
        for order, group in orders:
            client = found.get(order.header.client)
            if isinstance(client, ClientNotFound) or client is None:
                cells = group[0].values
                # Reported under the first column naming the client, in the order find_clients tries them.
                column = next((name for name in CLIENT_KEY_FIELDS if cells.get(name, "").strip()), None)
                message = str(client) if client is not None else "This order names no client."
                self._refuse(group, [(row.line, column, message) for row in group])
                continue
            placed.append((order, group, client))
        if placed:
            self._write(placed)

    def _apart(self, rows: list[SourceRow], key: tuple[str, str], earlier: str) -> list[tuple[int, str | None, str]]:
        message = (
            f"Order {describe(key)} appears again at line {rows[0].line}, apart from its lines {earlier}; the lines "
            "of one order must be next to each other in the file."
        )
        return [(row.line, "order_id", message) for row in rows]

    # --- Writing ----------------------------------------------------------------------------------------------

    def _write(self, placed: list[tuple[ImportedOrder, list[SourceRow], int]]) -> None:
        existing = self._existing([order.key for order, _rows, _client in placed])
        # An order this import wrote in an earlier chunk, back again further down the file.
        order_type = self._content_types[Order]
        written = set(
            ImportChange.objects.filter(
                batch=self.batch, content_type=order_type, object_id__in=[item.pk for item in existing.values()]
            ).values_list("object_id", flat=True)
        ) if existing else set()
        skus = {line.sku for order, _rows, _client in placed for line in order.clean.lines}
        products = {product.sku: product for product in Product.objects.filter(sku__in=skus).only("pk", "sku", "name",
                                                                                                 "category")}
        now = timezone.now()
        created: list[tuple[ImportedOrder, dict[str, Any]]] = []
        updated: list[tuple[ImportedOrder, dict[str, Any], _Existing, list[str], bool]] = []
        for order, group, client in placed:
            clean, header = order.clean, order.header
            fields = {
                "customer_id": client,
                "boutique_id": header.boutique_id,
                "advisor_id": header.advisor_id,
                **clean.fields(),
            }
            before = existing.get(order.key)
            if before is None:
                created.append((order, fields))
                self._order_outcome("new", order, group[0])
                continue
            if before.pk in written:
                self._refuse(group, self._apart(group, order.key, "earlier in this file, imported already"))
                continue
            changed = [name for name, value in fields.items() if before.fields[name] != value]
            lines_changed = [(line[1], line[5], line[6], line[7]) for line in before.lines] != order_lines_signature(
                clean.lines
            )
            if not changed and not lines_changed:
                self._order_outcome("unchanged", order, group[0])
                continue
            updated.append((order, fields, before, changed, lines_changed))
            self._order_outcome("updated", order, group[0], fields=[*changed, *(["lines"] if lines_changed else [])])
        for order, _fields in created:
            order_lines_attach_products(order.clean.lines, products)
        for order, *_rest, lines_changed in updated:
            if lines_changed:
                order_lines_attach_products(order.clean.lines, products)

        changes: list[_Change] = []
        touched: set[int] = set()
        written_orders: list[_Written] = []

        if created:
            returned = _insert(
                Order._meta.db_table,
                {"source": "text", "external_id": "text", **ORDER_COLUMN_TYPES},
                [(*order.key, *fields.values()) for order, fields in created],
                constants={"created_at": "statement_timestamp()", "updated_at": "statement_timestamp()"},
                suffix="ON CONFLICT (source, external_id) DO NOTHING RETURNING source, external_id, id, updated_at",
            )
            pks = {(source, external_id): (pk, updated_at) for source, external_id, pk, updated_at in returned}
            for order, fields in created:
                if order.key not in pks:
                    raise ApplicationError(
                        f"The order {describe(order.key)} was recorded by someone else while this file was imported; "
                        "import the file again.",
                        extra={"order": describe(order.key)},
                    )
                pk, updated_at = pks[order.key]
                written_orders.append(_Written(_order(order, fields, pk, updated_at), order, None, True))
                changes.append((order_type.pk, pk, ImportChange.Action.CREATED, None))
                touched.add(fields["customer_id"])

        if updated:
            _update_orders([(before.pk, fields) for _order, fields, before, _changed, _lines in updated], now=now)
            replaced = [before.pk for _order, _fields, before, _changed, lines_changed in updated if lines_changed]
            if replaced:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"DELETE FROM {OrderLine._meta.db_table} WHERE order_id = ANY(%s)",  # noqa: S608
                        [replaced],
                    )
            moved = [
                (before.pk, fields["customer_id"])
                for _order, fields, before, changed, _lines in updated
                if "customer_id" in changed
            ]
            if moved:
                _move_interactions(moved)
            for order, fields, before, changed, lines_changed in updated:
                was = {name: jsonable(before.fields[name]) for name in changed}
                if lines_changed:
                    was["lines"] = [[jsonable(value) for value in line] for line in before.lines]
                changes.append((order_type.pk, before.pk, ImportChange.Action.UPDATED, was))
                touched.update({fields["customer_id"], before.fields["customer_id"]})
                written_orders.append(_Written(_order(order, fields, before.pk, now), order, before, lines_changed))

        lines = [
            (item.order.pk, number, line.sku, line.product_id, line.product_name, line.category, line.quantity,
             line.unit_price, line.is_return)
            for item in written_orders
            if item.writes_lines
            for number, line in enumerate(item.imported.clean.lines, start=1)
        ]
        _insert(OrderLine._meta.db_table, LINE_COLUMN_TYPES, lines)
        changes.extend(self._write_timeline(written_orders))
        _insert(
            ImportChange._meta.db_table,
            {"batch_id": "bigint", "content_type_id": "integer", "object_id": "bigint", "action": "text",
             "before": "jsonb"},
            [(self.batch.pk, *change) for change in changes],
        )
        self._refresh_metrics(touched)

    def _write_timeline(self, written_orders: list[_Written]) -> list[_Change]:
        """The interactions order_record would put on the timeline, the clients' last interaction moved forward."""
        rows = []
        for item in written_orders:
            order = item.order
            previous_status = item.previous.fields["status"] if item.previous is not None else None
            for entry in order_timeline(order, previous_status=previous_status):
                rows.append((
                    order.customer_id, self._touchpoint_types[entry.touchpoint_type], entry.occurred_at, order.channel,
                    order.boutique_id, order.advisor_id, order.source, entry.external_id, entry.amount,
                    order.currency, order.pk, entry.metadata or {},
                ))
        if not rows:
            return []
        # A replayed interaction is the same interaction (interaction_record's rule): conflicts change nothing.
        returned = _insert(
            Interaction._meta.db_table, INTERACTION_COLUMN_TYPES, rows,
            constants={"created_at": "statement_timestamp()"},
            suffix="ON CONFLICT DO NOTHING RETURNING id, customer_id, occurred_at, order_id",
        )
        _last_interaction_moved_on(
            [{"customer_id": customer_id, "occurred_at": occurred_at} for _pk, customer_id, occurred_at, _ in returned]
        )
        if self.batch.runs_automation:
            # Opted in: the journey rules hear of these purchases once the chunk commits, as for order_record.
            interactions_recorded(pk for pk, *_ in returned)
        # A created order's interactions go with it on rollback; an updated order's new ones are recorded.
        updated_pks = {item.order.pk for item in written_orders if item.previous is not None}
        interaction_type = self._content_types[Interaction]
        return [
            (interaction_type.pk, pk, ImportChange.Action.CREATED, None)
            for pk, _customer, _at, order_pk in returned
            if order_pk in updated_pks
        ]

    def _refresh_metrics(self, customer_ids: set[int]) -> None:
        """customer_metrics_refresh for the chunk's clients, with the import's history context: the clients'
        history rows (the tier is tracked) in one statement rather than one trigger subtransaction per client."""
        if customer_ids:
            customer_metrics_refresh(customer_ids=sorted(customer_ids), history_context=self.history_context)

    def _existing(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Existing]:
        """The orders of these keys already in Atelier, with their lines: two queries."""
        if not keys:
            return {}
        names = list(ORDER_COLUMN_TYPES)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT o.source, o.external_id, o.id, {', '.join(f'o.{name}' for name in names)} "  # noqa: S608
                f"FROM {Order._meta.db_table} AS o "
                "JOIN unnest(%s::text[], %s::text[]) AS k(source, external_id) "
                "ON o.source = k.source AND o.external_id = k.external_id",
                [[key[0] for key in keys], [key[1] for key in keys]],
            )
            found = {
                (source, external_id): _Existing(pk=pk, fields=dict(zip(names, values, strict=True)), lines=[])
                for source, external_id, pk, *values in cursor.fetchall()
            }
            if not found:
                return {}
            by_pk = {item.pk: item for item in found.values()}
            cursor.execute(
                "SELECT order_id, line_number, sku, product_id, product_name, category, quantity, unit_price, "  # noqa: S608
                f"is_return FROM {OrderLine._meta.db_table} WHERE order_id = ANY(%s) ORDER BY order_id, line_number",
                [list(by_pk)],
            )
            for order_id, *line in cursor.fetchall():
                by_pk[order_id].lines.append(tuple(line))
        return found


def _update_orders(rows: list[tuple[int, dict[str, Any]]], *, now: dt.datetime) -> None:
    """One UPDATE ... FROM unnest(arrays) for the chunk's changed orders (every field order_record sets)."""
    names = list(ORDER_COLUMN_TYPES)
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{ORDER_COLUMN_TYPES[name]}[]" for name in names)])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Order._meta.db_table} AS o SET {', '.join(f'{name} = v.{name}' for name in names)}, "  # noqa: S608
            f"updated_at = %s FROM unnest({arrays}) AS v(id, {', '.join(names)}) WHERE o.id = v.id",
            [now, [pk for pk, _fields in rows], *([fields[name] for _pk, fields in rows] for name in names)],
        )


def _move_interactions(moved: list[tuple[int, int]]) -> None:
    """An order now of another client takes its interactions along (as order_record does)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Interaction._meta.db_table} AS i SET customer_id = v.customer_id "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(order_id, customer_id) WHERE i.order_id = v.order_id",
            [[order_pk for order_pk, _customer in moved], [customer for _order, customer in moved]],
        )


def _order(order: ImportedOrder, fields: dict[str, Any], pk: int, updated_at: dt.datetime) -> Order:
    """The order as saved, in memory (no query): what order_timeline reads."""
    return Order(pk=pk, source=order.key[0], external_id=order.key[1], updated_at=updated_at, **fields)
