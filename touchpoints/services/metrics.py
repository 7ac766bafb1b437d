"""Client metrics derived from orders, recomputed set-based in SQL: one statement for one client or for all.

Counted orders are placed or fulfilled; cancelled and fully returned orders count for nothing, and return lines
reduce an order's total. Lifetime value is the sum of counted totals in the house currency (never below zero);
the order count ignores return-only receipts; the average order value is lifetime value over that count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

from core.client_changes import clients_changed
from customers.models import ValueTier

# Lifetime value (house currency) from which a client reaches each tier; below GOLD a buyer is a CLIENT.
TIER_THRESHOLDS = ((150_000, ValueTier.VIC), (50_000, ValueTier.PLATINUM), (10_000, ValueTier.GOLD))
# Recency score by days since the last order; frequency by order count; monetary by lifetime value.
RECENCY_DAYS = ((30, 5), (90, 4), (180, 3), (365, 2))
FREQUENCY_COUNTS = ((10, 5), (5, 4), (3, 3), (2, 2), (1, 1))
MONETARY_VALUES = ((50_000, 5), (15_000, 4), (5_000, 3), (1_000, 2))

# Positional parameters only: pgtrigger.ignore (used by bulk loads) prepends a statement with a positional one.
# `stats` is MATERIALIZED: computed once. Inlined, a planner that believes the clients table nearly empty (stale
# statistics in the middle of a large import) re-runs it for every client updated: quadratic, seconds per chunk.
_SQL = """
WITH params AS (SELECT %s::timestamptz AS now),
stats AS MATERIALIZED (
    SELECT c.id AS customer_id,
           GREATEST(COALESCE(SUM(o.total_house) FILTER (WHERE o.status IN ('placed', 'fulfilled')), 0), 0) AS value,
           COUNT(o.id) FILTER (WHERE o.status IN ('placed', 'fulfilled') AND o.total > 0) AS orders,
           MIN(o.placed_at) FILTER (WHERE o.status IN ('placed', 'fulfilled') AND o.total > 0) AS first_at,
           MAX(o.placed_at) FILTER (WHERE o.status IN ('placed', 'fulfilled') AND o.total > 0) AS last_at
    FROM customers_customer c
    LEFT JOIN touchpoints_order o ON o.customer_id = c.id {join}
    {where}
    GROUP BY c.id
)
UPDATE customers_customer c SET
    lifetime_value = s.value,
    order_count = s.orders,
    first_order_at = s.first_at,
    last_order_at = s.last_at,
    average_order_value = CASE WHEN s.orders > 0 THEN ROUND(s.value / s.orders, 2) ELSE 0 END,
    value_tier = CASE WHEN s.orders = 0 THEN 'prospect' {tiers} ELSE 'client' END,
    recency_score = CASE WHEN s.last_at IS NULL THEN NULL {recency} ELSE 1 END,
    frequency_score = CASE WHEN s.orders = 0 THEN NULL {frequency} END,
    monetary_score = CASE WHEN s.orders = 0 THEN NULL {monetary} ELSE 1 END
FROM stats s, params p
WHERE c.id = s.customer_id
  AND (c.lifetime_value, c.order_count, c.first_order_at, c.last_order_at, c.value_tier, c.recency_score,
       c.frequency_score, c.monetary_score)
      IS DISTINCT FROM
      (s.value, s.orders::int, s.first_at, s.last_at,
       CASE WHEN s.orders = 0 THEN 'prospect' {tiers} ELSE 'client' END,
       CASE WHEN s.last_at IS NULL THEN NULL {recency} ELSE 1 END,
       CASE WHEN s.orders = 0 THEN NULL {frequency} END,
       CASE WHEN s.orders = 0 THEN NULL {monetary} ELSE 1 END)
"""


def _statement(where: str, join: str) -> str:
    tiers = " ".join(f"WHEN s.value >= {limit} THEN '{tier.value}'" for limit, tier in TIER_THRESHOLDS)
    recency = " ".join(
        f"WHEN s.last_at >= p.now - interval '{days} days' THEN {score}" for days, score in RECENCY_DAYS
    )
    frequency = " ".join(f"WHEN s.orders >= {count} THEN {score}" for count, score in FREQUENCY_COUNTS)
    monetary = " ".join(f"WHEN s.value >= {limit} THEN {score}" for limit, score in MONETARY_VALUES)
    return _SQL.format(where=where, join=join, tiers=tiers, recency=recency, frequency=frequency, monetary=monetary)


def customer_metrics_refresh(*, customer_ids: Iterable[int] | None = None, now: dt.datetime | None = None) -> int:
    """Recompute lifetime value, order count, first/last order, average order value, tier and RFM scores from
    the orders, for the given clients or (None) for every client. Returns how many clients changed."""
    params: list[object] = [now or timezone.now()]
    if customer_ids is None:
        where = join = ""
    else:
        ids = list(customer_ids)
        if not ids:
            return 0
        clients_changed(ids)  # Insight's rollups follow every change to a client's orders, after the commit.
        # Filtering the orders by the same ids lets PostgreSQL use the orders' customer index for a few clients.
        where, join = "WHERE c.id = ANY(%s)", "AND o.customer_id = ANY(%s)"
        params += [ids, ids]
    with connection.cursor() as cursor:
        cursor.execute(_statement(where, join), params)
        return cursor.rowcount
