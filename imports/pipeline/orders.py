"""The set-based import of an order file (one row per order line): streamed in chunks that never split an order.

Per chunk: exact repeated lines are skipped; the lines are put together into orders (contiguous in the file) and
each order is checked whole with order_clean (imports.kinds.orders), so that an order with one bad line is
refused with all its lines; the clients are found with find_clients (never created); the orders already in Atelier
are written by touchpoints' orders_record_many, which holds every rule of recording an order (new, updated or
unchanged; lines, timeline, the clients' last interaction); this module keeps the batch's bookkeeping: one
ImportChange per order created or updated (with what it was, for a rollback), and the clients' metrics refreshed
with their history rows in one statement.

Counts are per order: new, updated, unchanged and invalid count orders; skipped counts the lines that repeat an
earlier line exactly (they belong to an order counted once under its own outcome).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

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
from touchpoints.events import listeners_paused
from touchpoints.models import Interaction, Order
from touchpoints.services import customer_metrics_refresh
from touchpoints.services.interactions import Status
from touchpoints.services.orders import OrderItem, OrderLineData, orders_record_many

logger = logging.getLogger(__name__)

# Orders remembered (key -> first line) to recognise an order whose lines come back later in the file.
ORDER_WINDOW = DUPLICATE_WINDOW
COUNTED_AS = "Counts are per order; skipped counts lines repeating an earlier line exactly."


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
        """The chunk's orders through touchpoints' orders_record_many (its rules, lines, timeline and the clients'
        last interaction), then one ImportChange per order created or updated (and per interaction an update put
        on the timeline), and the clients' metrics with their history rows in one statement."""
        order_type, interaction_type = self._content_types[Order], self._content_types[Interaction]
        keys = {order.key for order, _rows, _client in placed}
        known = {
            (source, external_id): pk
            for source, external_id, pk in Order.objects.filter(
                source__in={key[0] for key in keys}, external_id__in={key[1] for key in keys}
            ).values_list("source", "external_id", "pk")
            if (source, external_id) in keys
        }
        # An order this import wrote in an earlier chunk, back again further down the file.
        written = set(
            ImportChange.objects.filter(
                batch=self.batch, content_type=order_type, object_id__in=list(known.values())
            ).values_list("object_id", flat=True)
        ) if known else set()
        to_record = [(order, group, client) for order, group, client in placed
                     if order.key not in known or known[order.key] not in written]
        items = [
            OrderItem(
                source=order.header.source, external_id=order.clean.external_id, customer_id=client,
                placed_at=order.clean.placed_at, currency=order.clean.currency, total=order.clean.total,
                lines=[OrderLineData(sku=line.sku, quantity=line.quantity, unit_price=line.unit_price,
                                     product_name=line.product_name, category=line.category, is_return=line.is_return)
                       for line in order.clean.lines],
                status=order.clean.status, channel=order.clean.channel, boutique_id=order.header.boutique_id,
                advisor_id=order.header.advisor_id,
            )
            for order, _group, client in to_record
        ]
        # The journey rules hear of these purchases only when the batch opted in.
        with nullcontext() if self.batch.runs_automation else listeners_paused():
            recorded = dict(zip((id(order) for order, _g, _c in to_record),
                                orders_record_many(items=items, refresh_metrics=False), strict=True))

        changes: list[_Change] = []
        touched: set[int] = set()
        for order, group, _client in placed:
            result = recorded.get(id(order))
            if result is None:
                self._refuse(group, self._apart(group, order.key, "earlier in this file, imported already"))
            elif result.error is not None:
                self._refuse(group, [(row.line, next(iter(result.error.fields), None), result.error.message)
                                     for row in group])
            elif result.status == Status.CREATED:
                self._order_outcome("new", order, group[0])
                changes.append((order_type.pk, result.record_id, ImportChange.Action.CREATED, None))
                touched.add(result.customer_id)
            elif result.status == Status.UPDATED:
                fields = [*result.changed_fields, *(["lines"] if result.lines_changed else [])]
                self._order_outcome("updated", order, group[0], fields=fields)
                previous = result.previous or {}
                was = {name: jsonable(previous[name]) for name in result.changed_fields}
                if result.lines_changed:
                    was["lines"] = [[jsonable(value) for value in line] for line in result.previous_lines]
                changes.append((order_type.pk, result.record_id, ImportChange.Action.UPDATED, was))
                # A created order's interactions go with it on rollback; an updated order's new ones are recorded.
                changes += [(interaction_type.pk, pk, ImportChange.Action.CREATED, None)
                            for pk in result.interaction_ids]
                touched.update({result.customer_id, previous["customer_id"]})
            else:
                self._order_outcome("unchanged", order, group[0])
        _insert(
            ImportChange._meta.db_table,
            {"batch_id": "bigint", "content_type_id": "integer", "object_id": "bigint", "action": "text",
             "before": "jsonb"},
            [(self.batch.pk, *change) for change in changes],
        )
        self._refresh_metrics(touched)

    def _refresh_metrics(self, customer_ids: set[int]) -> None:
        """customer_metrics_refresh for the chunk's clients, with the import's history context: the clients'
        history rows (the tier is tracked) in one statement rather than one trigger subtransaction per client."""
        if customer_ids:
            customer_metrics_refresh(customer_ids=sorted(customer_ids), history_context=self.history_context)
