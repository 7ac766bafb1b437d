"""Writing the rollups (insight.models.rollups) from the raw tables, set-based: a handful of statements for one
client, a batch of clients, or the whole house.

A client's rows are always rewritten whole: every stay of every enrollment they hold, every counted order, and then
the value days those orders fall on (before and after), summed again from the per-order facts. So a refresh is
idempotent, order does not matter, and a merge (the duplicate's orders and transitions now the survivor's) or a late
order (a purchase from last year, synced today) leaves the same rows a full rebuild would.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# One refresh at a time: two refreshes summing the same value day must not both insert it.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('insight.rollups'))"

_STAYS_INSERT = """
WITH moves AS (
    SELECT t.id, t.enrollment_id, t.to_stage_id, t.occurred_at,
           LEAD(t.occurred_at) OVER w AS next_at,
           LEAD(t.to_stage_id) OVER w AS next_stage_id,
           LEAD(t.id) OVER w IS NULL AS is_last
    FROM journeys_transition t
    {where}
    WINDOW w AS (PARTITION BY t.enrollment_id ORDER BY t.occurred_at, t.id)
),
stays AS (
    SELECT m.*, e.journey_id, e.customer_id, e.exited_at, c.home_boutique_id, c.advisor_id, c.persona_id,
           c.value_tier,
           m.occurred_at + make_interval(days => s.target_days) AS due_at,
           m.next_at IS NOT NULL
               AND (s.target_days IS NULL OR m.next_at <= m.occurred_at + make_interval(days => s.target_days))
               AS moved_on
    FROM moves m
    JOIN journeys_enrollment e ON e.id = m.enrollment_id
    JOIN journeys_stage s ON s.id = m.to_stage_id
    JOIN customers_customer c ON c.id = e.customer_id
)
INSERT INTO insight_stagestay (entering_transition_id, enrollment_id, journey_id, stage_id, customer_id,
                               boutique_id, advisor_id, persona_id, value_tier, entered_at, entered_on, left_at,
                               to_stage_id, moved_on, dropped_at)
SELECT id, enrollment_id, journey_id, to_stage_id, customer_id, home_boutique_id, advisor_id, persona_id, value_tier,
       occurred_at, (occurred_at AT TIME ZONE %s)::date, next_at, next_stage_id, moved_on,
       CASE WHEN moved_on THEN NULL
            -- LEAST ignores NULLs: the exit (last stay only), else the end of the target days, else never.
            ELSE LEAST(CASE WHEN is_last AND exited_at >= occurred_at THEN exited_at END, due_at) END
FROM stays
"""

_FACTS_INSERT = """
WITH counted AS (
    SELECT o.id, o.customer_id, o.placed_at, o.channel, o.total_house, o.total > 0 AS is_purchase,
           c.home_boutique_id, c.advisor_id
    FROM touchpoints_order o
    JOIN customers_customer c ON c.id = o.customer_id
    WHERE o.status IN ('placed', 'fulfilled') {where}
),
ranked AS (
    SELECT counted.*,
           is_purchase AND ROW_NUMBER() OVER (
               PARTITION BY customer_id ORDER BY NOT is_purchase, placed_at, id
           ) = 1 AS is_first
    FROM counted
)
INSERT INTO insight_valuefact (order_id, customer_id, placed_on, boutique_id, advisor_id, channel, revenue,
                               is_purchase, is_first_purchase)
SELECT id, customer_id, (placed_at AT TIME ZONE %s)::date, home_boutique_id, advisor_id, channel, total_house,
       is_purchase, is_first
FROM ranked
RETURNING placed_on
"""

_DAYS_SUM = """
INSERT INTO insight_valueday (day, boutique_id, advisor_id, channel, revenue, purchases, new_clients)
SELECT placed_on, boutique_id, advisor_id, channel, SUM(revenue), COUNT(*) FILTER (WHERE is_purchase),
       COUNT(*) FILTER (WHERE is_first_purchase)
FROM insight_valuefact
{where}
GROUP BY placed_on, boutique_id, advisor_id, channel
"""


@transaction.atomic
def rollups_refresh_clients(*, customer_ids: Iterable[int]) -> dict[str, int]:
    """Rewrite the stays, order facts and value days of these clients from the raw tables. Idempotent.

    Ids of clients that no longer exist (merged away) are welcome: their rows go.
    """
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return {"clients": 0, "stays": 0, "orders": 0, "days": 0}
    zone = settings.TIME_ZONE
    with connection.cursor() as cursor:
        cursor.execute(_LOCK)
        enrollments = "SELECT id FROM journeys_enrollment WHERE customer_id = ANY(%s)"
        cursor.execute(
            "DELETE FROM insight_stagestay WHERE customer_id = ANY(%s) OR enrollment_id IN (" + enrollments + ")"
            " OR entering_transition_id IN (SELECT id FROM journeys_transition WHERE enrollment_id IN ("
            + enrollments + "))",
            [ids, ids, ids],
        )
        cursor.execute(
            _STAYS_INSERT.format(where="WHERE t.enrollment_id IN (" + enrollments + ")"), [ids, zone]
        )
        stays = cursor.rowcount
        cursor.execute(
            "DELETE FROM insight_valuefact WHERE customer_id = ANY(%s)"
            " OR order_id IN (SELECT id FROM touchpoints_order WHERE customer_id = ANY(%s)) RETURNING placed_on",
            [ids, ids],
        )
        days = {row[0] for row in cursor.fetchall()}
        cursor.execute(_FACTS_INSERT.format(where="AND o.customer_id = ANY(%s)"), [ids, zone])
        orders = cursor.rowcount
        days.update(row[0] for row in cursor.fetchall())
        _sum_days(cursor, sorted(days))
    logger.info("insight.rollups_refreshed clients=%s stays=%s orders=%s days=%s", len(ids), stays, orders, len(days))
    return {"clients": len(ids), "stays": stays, "orders": orders, "days": len(days)}


def _sum_days(cursor, days: list[dt.date]) -> None:
    if not days:
        return
    cursor.execute("DELETE FROM insight_valueday WHERE day = ANY(%s)", [days])
    cursor.execute(_DAYS_SUM.format(where="WHERE placed_on = ANY(%s)"), [days])


@transaction.atomic
def rollups_rebuild() -> dict[str, int]:
    """Rebuild every rollup from the raw tables (manage.py insight_rebuild): empty them, then three statements."""
    zone = settings.TIME_ZONE
    with connection.cursor() as cursor:
        cursor.execute(_LOCK)
        cursor.execute("TRUNCATE insight_stagestay, insight_valuefact, insight_valueday")
        cursor.execute(_STAYS_INSERT.format(where=""), [zone])
        stays = cursor.rowcount
        cursor.execute(_FACTS_INSERT.format(where=""), [zone])
        orders = cursor.rowcount
        cursor.execute(_DAYS_SUM.format(where=""))
        days = cursor.rowcount
    logger.info("insight.rollups_rebuilt stays=%s orders=%s value_days=%s", stays, orders, days)
    return {"stays": stays, "orders": orders, "value_days": days}


def clients_touched_since(since: dt.datetime) -> list[int]:
    """The clients whose orders, enrollments or stage moves were written or dated since `since`, or whose record
    changed: what a late sync or an import may have brought without the commit hook (a bulk load, a write before
    insight was installed), and the reassignments the hook does not hear of."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT customer_id FROM touchpoints_order WHERE updated_at >= %s OR placed_at >= %s
            UNION SELECT customer_id FROM journeys_enrollment WHERE updated_at >= %s
            UNION SELECT e.customer_id FROM journeys_transition t JOIN journeys_enrollment e ON e.id = t.enrollment_id
                  WHERE t.occurred_at >= %s
            -- A client given another boutique, advisor or persona: the slices copied into their rows change.
            UNION SELECT id FROM customers_customer WHERE updated_at >= %s
            """,
            [since, since, since, since, since],
        )
        return sorted(row[0] for row in cursor.fetchall())


def rollups_reconcile(*, since: dt.date | None = None, batch_size: int = 5000) -> dict[str, int]:
    """Rewrite the rollups of every client touched since `since` (default: INSIGHT_RECONCILE_DAYS ago), in batches.
    The nightly safety net behind the commit hook; `insight_rebuild --since DATE` runs it by hand."""
    if since is None:
        since = timezone.localdate() - dt.timedelta(days=settings.INSIGHT_RECONCILE_DAYS)
    start = dt.datetime.combine(since, dt.time.min, tzinfo=timezone.get_current_timezone())
    ids = clients_touched_since(start)
    totals = {"clients": 0, "stays": 0, "orders": 0, "days": 0}
    for index in range(0, len(ids), batch_size):
        for key, value in rollups_refresh_clients(customer_ids=ids[index:index + batch_size]).items():
            totals[key] += value
    return totals
