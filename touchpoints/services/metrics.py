"""Client metrics derived from orders: the per-client order figures, computed set-based from the orders; the
tiers, RFM scores and the write of the client table are customers' (customers.services.metrics).

Counted orders are placed or fulfilled; cancelled and fully returned orders count for nothing, and return lines
reduce an order's total. Lifetime value is the sum of counted totals in the house currency (never below zero);
the order count ignores return-only receipts; the average order value is lifetime value over that count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from core.bulk import RowsQuery
from core.client_changes import clients_changed
from customers.services.metrics import customers_metrics_record_many

_STATS = """
    SELECT c.id AS customer_id,
           GREATEST(COALESCE(SUM(o.total_house) FILTER (WHERE o.status IN ('placed', 'fulfilled')), 0), 0) AS value,
           COUNT(o.id) FILTER (WHERE o.status IN ('placed', 'fulfilled') AND o.total > 0) AS orders,
           MIN(o.placed_at) FILTER (WHERE o.status IN ('placed', 'fulfilled') AND o.total > 0) AS first_at,
           MAX(o.placed_at) FILTER (WHERE o.status IN ('placed', 'fulfilled') AND o.total > 0) AS last_at
    FROM customers_customer c
    LEFT JOIN touchpoints_order o ON o.customer_id = c.id {join}
    {where}
    GROUP BY c.id
"""


def customer_metrics_refresh(
    *, customer_ids: Iterable[int] | None = None, now: dt.datetime | None = None, history_context: Any = None
) -> int:
    """Recompute lifetime value, order count, first/last order, average order value, tier and RFM scores from
    the orders, for the given clients or (None) for every client. Returns how many clients changed."""
    if customer_ids is None:
        stats = RowsQuery(_STATS.format(where="", join=""))
    else:
        ids = list(customer_ids)
        if not ids:
            return 0
        clients_changed(ids)  # Insight's rollups follow every change to a client's orders, after the commit.
        # Filtering the orders by the same ids lets PostgreSQL use the orders' customer index for a few clients.
        stats = RowsQuery(_STATS.format(where="WHERE c.id = ANY(%s)", join="AND o.customer_id = ANY(%s)"),
                          [ids, ids])
    return customers_metrics_record_many(stats=stats, now=now, history_context=history_context)
