"""Client metrics (lifetime value, order count, first/last order, average order value, tier, RFM scores): the house's
thresholds, and the one service that writes them, set-based, from the per-client order figures it is given.

The figures come from the app that keeps the orders (touchpoints.services.metrics builds the SELECT); the rules that
turn them into a tier and scores, and the write of the client table, live here, so that only customers writes it.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Any

import pgtrigger
from django.db import connection
from django.utils import timezone

from core.bulk import RowsQuery
from customers.models import Customer, ValueTier
from customers.services.history import HISTORY_TRIGGERS, customers_history_record

# Lifetime value (house currency) from which a client reaches each tier; below GOLD a buyer is a CLIENT.
TIER_THRESHOLDS = ((150_000, ValueTier.VIC), (50_000, ValueTier.PLATINUM), (10_000, ValueTier.GOLD))
# Recency score by days since the last order; frequency by order count; monetary by lifetime value.
RECENCY_DAYS = ((30, 5), (90, 4), (180, 3), (365, 2))
FREQUENCY_COUNTS = ((10, 5), (5, 4), (3, 3), (2, 2), (1, 1))
MONETARY_VALUES = ((50_000, 5), (15_000, 4), (5_000, 3), (1_000, 2))

# Positional parameters only: pgtrigger.ignore prepends a statement with a positional one.
# `stats` is MATERIALIZED: computed once. Inlined, a planner that believes the clients table nearly empty (stale
# statistics in the middle of a large import) re-runs it for every client updated: quadratic, seconds per chunk.
# `old` is the same table read in the statement's snapshot: the tier before the update, for the history.
_SQL = """
WITH params AS (SELECT %s::timestamptz AS now),
stats AS MATERIALIZED ({stats})
UPDATE {table} c SET
    lifetime_value = s.value,
    order_count = s.orders,
    first_order_at = s.first_at,
    last_order_at = s.last_at,
    average_order_value = CASE WHEN s.orders > 0 THEN ROUND(s.value / s.orders, 2) ELSE 0 END,
    value_tier = {tier},
    recency_score = {recency},
    frequency_score = {frequency},
    monetary_score = {monetary}
FROM stats s, params p, {table} old
WHERE c.id = s.customer_id AND old.id = c.id
  AND (c.lifetime_value, c.order_count, c.first_order_at, c.last_order_at, c.value_tier, c.recency_score,
       c.frequency_score, c.monetary_score)
      IS DISTINCT FROM
      (s.value, s.orders::int, s.first_at, s.last_at, {tier}, {recency}, {frequency}, {monetary})
RETURNING c.id, old.value_tier IS DISTINCT FROM c.value_tier
"""


def _statement(stats: str) -> str:
    tiers = " ".join(f"WHEN s.value >= {limit} THEN '{tier.value}'" for limit, tier in TIER_THRESHOLDS)
    recency = " ".join(
        f"WHEN s.last_at >= p.now - interval '{days} days' THEN {score}" for days, score in RECENCY_DAYS
    )
    frequency = " ".join(f"WHEN s.orders >= {count} THEN {score}" for count, score in FREQUENCY_COUNTS)
    monetary = " ".join(f"WHEN s.value >= {limit} THEN {score}" for limit, score in MONETARY_VALUES)
    return _SQL.format(
        stats=stats,
        table=Customer._meta.db_table,
        tier=f"CASE WHEN s.orders = 0 THEN '{ValueTier.PROSPECT.value}' {tiers} ELSE '{ValueTier.CLIENT.value}' END",
        recency=f"CASE WHEN s.last_at IS NULL THEN NULL {recency} ELSE 1 END",
        frequency=f"CASE WHEN s.orders = 0 THEN NULL {frequency} END",
        monetary=f"CASE WHEN s.orders = 0 THEN NULL {monetary} ELSE 1 END",
    )


def customers_metrics_record_many(
    *, stats: RowsQuery, now: dt.datetime | None = None, history_context: Any = None
) -> int:
    """Write the metrics, tier and RFM scores of the clients `stats` names, in one statement.

    `stats` selects one row per client: customer_id, value (counted lifetime value in the house currency, never
    below zero), orders (counted orders), first_at and last_at (their first and last moments). Clients whose
    figures are unchanged are not written. With `history_context` (the caller's pghistory context) the history
    triggers are set aside and the rows of the clients whose tier changed are written in one statement. Returns
    how many clients changed.
    """
    quiet = pgtrigger.ignore(*HISTORY_TRIGGERS) if history_context is not None else nullcontext()
    with quiet, connection.cursor() as cursor:
        cursor.execute(_statement(stats.sql), [now or timezone.now(), *stats.params])
        returned = cursor.fetchall()
    if history_context is not None:
        customers_history_record(sorted(pk for pk, tier_changed in returned if tier_changed), label="update",
                                 context=history_context)
    return len(returned)
