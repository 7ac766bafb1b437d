"""Reads of the timeline: a client's interactions, orders and whatever higher apps add, merged by time."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.db import connections
from django.db.models import Case, CharField, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Abs, Cast, Coalesce, Concat, NullIf

from core.errors import ApplicationError
from customers.models import Customer
from touchpoints.models import Interaction, Order, OrderLine


@dataclass(frozen=True)
class TimelineSource:
    """A kind of entry on the client timeline: which rows belong to a client, and how to load them by id.

    `rows(customer)` returns a queryset of the model; `time_field` names its moment. Higher apps (journeys,
    feedback) register their sources in AppConfig.ready(), so the timeline never imports them.
    """

    kind: str
    rows: Callable[[Customer], QuerySet]
    time_field: str
    load: Callable[[list[int]], dict[int, Any]]


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    occurred_at: dt.datetime
    pk: int
    item: Any


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_cursor: str | None


_sources: dict[str, TimelineSource] = {}


def register_timeline_source(source: TimelineSource) -> None:
    _sources[source.kind] = source


def _load_interactions(pks: list[int]) -> dict[int, Interaction]:
    """The page's interactions, each order's articles summed up in the same query (`order_articles`: "1 × Kelly 28,
    2 × Carré 90", returns marked), so a page costs one query whatever its orders hold."""
    article = Concat(
        # A returned article has a negative quantity: "1 × … (returned)" reads better than "-1 × …".
        Cast(Abs("quantity"), CharField()), Value(" × "),
        Coalesce(NullIf("product_name", Value("")), NullIf("product__name", Value("")), "sku"),
        Case(When(is_return=True, then=Value(" (returned)")), default=Value("")),
        output_field=CharField(),
    )
    articles = (
        OrderLine.objects.filter(order_id=OuterRef("order_id")).order_by().values("order_id")
        .annotate(summary=StringAgg(article, delimiter=", ", order_by="line_number")).values("summary")
    )
    queryset = Interaction.objects.filter(pk__in=pks).select_related(
        "touchpoint_type", "boutique", "advisor__user", "order"
    ).annotate(order_articles=Subquery(articles))
    return {interaction.pk: interaction for interaction in queryset}


register_timeline_source(
    TimelineSource(
        kind="interaction",
        rows=lambda customer: Interaction.objects.filter(customer=customer),
        time_field="occurred_at",
        load=_load_interactions,
    )
)


def encode_cursor(entry: TimelineEntry) -> str:
    raw = f"{entry.occurred_at.isoformat()}|{entry.kind}|{entry.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, str, int]:
    try:
        moment, kind, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return dt.datetime.fromisoformat(moment), kind, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApplicationError.for_field("cursor", "This cursor is not one the timeline gave out.") from None


def _after_cursor(kind: str, cursor: tuple[dt.datetime, str, int] | None) -> Q:
    """Rows strictly after the cursor in (time, kind, id) descending order."""
    if cursor is None:
        return Q()
    moment, cursor_kind, cursor_pk = cursor
    if kind < cursor_kind:
        return Q(timeline_at__lte=moment)
    if kind == cursor_kind:
        return Q(timeline_at__lt=moment) | Q(timeline_at=moment, pk__lt=cursor_pk)
    return Q(timeline_at__lt=moment)


def customer_timeline(
    *, customer: Customer, cursor: str | None = None, limit: int = 50, kinds: list[str] | None = None
) -> TimelinePage:
    """One page of a client's timeline, newest first: interactions (orders among them), stage moves and what
    other apps register. One query finds the page, then one query per kind loads it, whatever the page size."""
    if not 1 <= limit <= 500:
        raise ApplicationError.for_field("limit", "Ask for between 1 and 500 entries.")
    position = decode_cursor(cursor) if cursor else None
    sources = [source for kind, source in sorted(_sources.items()) if kinds is None or kind in kinds]
    parts = [
        source.rows(customer)
        .annotate(
            timeline_at=F(source.time_field),
            timeline_kind=Value(source.kind, output_field=CharField()),
        )
        .filter(_after_cursor(source.kind, position))
        .order_by()
        .values_list("pk", "timeline_at", "timeline_kind")
        for source in sources
    ]
    if not parts:
        return TimelinePage(entries=[], next_cursor=None)
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    rows = list(combined.order_by("-timeline_at", "-timeline_kind", "-pk")[: limit + 1])
    page, has_more = rows[:limit], len(rows) > limit

    loaded: dict[str, dict[int, Any]] = {}
    for source in sources:
        pks = [pk for pk, _, kind in page if kind == source.kind]
        if pks:
            loaded[source.kind] = source.load(pks)
    entries = [TimelineEntry(kind=kind, occurred_at=at, pk=pk, item=loaded[kind][pk]) for pk, at, kind in page]
    return TimelinePage(entries=entries, next_cursor=encode_cursor(entries[-1]) if has_more else None)


@dataclass(frozen=True)
class PurchaseHistories:
    """Every client's net purchases, one entry per client in each column (same order), for the foresight model.

    A purchase day is a day (UTC) on which the client's counted orders (placed or fulfilled) add up to more than
    nothing in the house currency: orders returned in full, cancelled ones and days netted to zero by returns are not
    purchases. Days are counted from 1970-01-01.
    """

    customer_ids: list[int]
    first_days: list[int]
    last_days: list[int]
    purchase_days: list[int]
    spend: list[float]

    def __len__(self) -> int:
        return len(self.customer_ids)


def purchase_histories(*, until: dt.datetime, database: str = "default") -> PurchaseHistories:
    """Each client's first and last purchase day, number of purchase days and net spend, from orders placed before
    `until`. One aggregate query; read by insight's foresight, which must not read orders itself."""
    table = Order._meta.db_table
    statuses = [str(status) for status in Order.COUNTED_STATUSES]
    sql = f"""
        SELECT customer_id, min(day), max(day), count(*), sum(day_total)::float8
        FROM (
            SELECT customer_id, ((placed_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01') AS day,
                   sum(total_house) AS day_total
            FROM {table}
            WHERE status = ANY(%s) AND placed_at < %s
            GROUP BY customer_id, day
            HAVING sum(total_house) > 0
        ) AS days
        GROUP BY customer_id
        ORDER BY customer_id
    """
    with connections[database].cursor() as cursor:
        cursor.execute(sql, [statuses, until])
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return PurchaseHistories(*(list(column) for column in columns))


__all__ = [
    "PurchaseHistories",
    "purchase_histories",
    "TimelineEntry",
    "TimelinePage",
    "TimelineSource",
    "customer_timeline",
    "register_timeline_source",
]
