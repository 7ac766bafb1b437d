"""Reads of the alerts: each watched figure as a daily series per boutique and for the house, from the raw tables.

Days are UTC days. Each figure is one aggregate query over the window, whatever the number of boutiques.

Sync rejections and webhook failures are not watched yet: sync and webhooks sit in insight's own layer, which the
import-linter contract keeps independent; watching them needs the layers re-cut (insight above them) or a figure
those apps publish. A broken sync shows meanwhile as what it does to the figures: orders and revenue stop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db import connection

from customers.models import Customer
from insight.models import CalendarPeriod
from touchpoints.models import Order


@dataclass(frozen=True)
class Figure:
    """A watched figure: how it is counted, which way is bad, and the smallest deviation that is not noise."""

    name: str
    label: str
    directions: tuple[str, ...]
    floor: float
    per_boutique: bool = True


FIGURES = {
    "revenue": Figure("revenue", "Daily revenue", ("down", "up"), 1.0),
    "orders": Figure("orders", "Daily orders", ("down", "up"), 1.0),
    "average_order_value": Figure("average_order_value", "Average order value", ("down", "up"), 1.0),
    "new_clients": Figure("new_clients", "New clients", ("down", "up"), 1.0),
}


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _daily(table: str, moment: str, boutique: str, value: str, where: str, params: list, joins: str = "") -> str:
    return (f"SELECT {boutique}, ({moment} AT TIME ZONE 'UTC')::date AS day, {value} FROM {table} {joins} "
            f"WHERE {moment} >= %s AND {moment} < %s {where} GROUP BY 1, 2")


def figure_series(*, first_day: dt.date, last_day: dt.date) -> dict[tuple[str, int | None], np.ndarray]:
    """Every watched figure, as a daily series from `first_day` to `last_day` (inclusive, zeros where nothing
    happened), per boutique and for the house (boutique None)."""
    start = dt.datetime.combine(first_day, dt.time.min, tzinfo=dt.UTC)
    end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    days = (last_day - first_day).days + 1
    counted = [str(status) for status in Order.COUNTED_STATUSES]
    orders = Order._meta.db_table
    sums: dict[str, list[tuple]] = {
        "revenue": _rows(_daily(orders, "placed_at", "boutique_id", "sum(total_house)::float8",
                                "AND status = ANY(%s)", []), [start, end, counted]),
        "orders": _rows(_daily(orders, "placed_at", "boutique_id", "count(*)::float8", "AND status = ANY(%s)", []),
                        [start, end, counted]),
        "new_clients": _rows(_daily(Customer._meta.db_table, "created_at", "home_boutique_id", "count(*)::float8",
                                    "", []), [start, end]),
    }
    series: dict[tuple[str, int | None], np.ndarray] = {}
    for name, rows in sums.items():
        house = np.zeros(days)
        for boutique_id, day, value in rows:
            index = (day - first_day).days
            if FIGURES[name].per_boutique and boutique_id is not None:
                series.setdefault((name, boutique_id), np.zeros(days))[index] += value
            house[index] += value
        series[(name, None)] = house
    for key in [key for key in series if key[0] == "orders"]:
        revenue = series.get(("revenue", key[1]), np.zeros(days))
        with np.errstate(divide="ignore", invalid="ignore"):
            # A day without orders has no average: it carries the day before's, so it does not read as a drop.
            aov = np.where(series[key] > 0, revenue / series[key], np.nan)
        for index in range(days):
            if np.isnan(aov[index]):
                aov[index] = aov[index - 1] if index else 0.0
        series[("average_order_value", key[1])] = aov
    return series


def calendar_marks(*, first_day: dt.date, last_day: dt.date) -> dict[int | None, np.ndarray]:
    """Per boutique (and None for house-wide periods), which days of the window the head office calendar marks."""
    days = (last_day - first_day).days + 1
    marks: dict[int | None, np.ndarray] = {}
    periods = CalendarPeriod.objects.filter(starts_on__lte=last_day, ends_on__gte=first_day)
    for period in periods:
        start = max((period.starts_on - first_day).days, 0)
        stop = min((period.ends_on - first_day).days, days - 1)
        marks.setdefault(period.boutique_id, np.zeros(days, bool))[start : stop + 1] = True
    return marks
