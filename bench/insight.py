"""Insight at a house's size: the full rebuild, the refresh after one day of new data, and p50/p95 of the journey
map page and the insight API, each next to the same figure computed from the raw tables in the same run.

    .venv/bin/python bench/insight.py [--customers 20000] [--requests 20] [--reseed]

Seeds a scratch database (atelier_bench_insight, kept between runs; --reseed rebuilds it) with the demo generator
(transitions, orders with returns and cancellations over two years), then: rebuilds the rollups (timed); rewrites the
rollups of the clients whose orders or stage moves fall on the busiest recent day (the one-day refresh, timed); times
in-process requests (Django's test client: view, queries, JSON or template) as head office and as a boutique
manager; times the same figures from the raw tables on the same period and scope, two ways: insight.selectors.raw
(the tests' Python reference) and one SQL statement each straight on journeys_transition / touchpoints_order; and
checks that all agree. Prints ms and queries per request (or per computation).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.seed import _setup_django, seed_if_needed  # noqa: E402

DATABASE = "atelier_bench_insight"


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[max(0, round(len(timings) * 0.95) - 1)]


def _time_request(client, url: str, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return (*_percentiles(timings), len(queries))


def _time_call(function, repeats: int) -> tuple[float, float, object]:
    timings, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    return (*_percentiles(timings), result)


# The same figures as one SQL statement each straight on the raw tables (no rollup): what a page would cost without
# insight's tables. Scope: the clients' home boutiques (None: every boutique).
RAW_SQL_FUNNEL = """
WITH moves AS (
    SELECT t.to_stage_id, t.occurred_at, e.exited_at, c.home_boutique_id,
           LEAD(t.occurred_at) OVER w AS next_at, LEAD(t.id) OVER w IS NULL AS is_last
    FROM journeys_transition t
    JOIN journeys_enrollment e ON e.id = t.enrollment_id
    JOIN customers_customer c ON c.id = e.customer_id
    WHERE e.journey_id = %(journey)s
    WINDOW w AS (PARTITION BY t.enrollment_id ORDER BY t.occurred_at, t.id)
), stays AS (
    SELECT m.*, m.occurred_at + make_interval(days => s.target_days) AS due_at,
           m.next_at IS NOT NULL AND (s.target_days IS NULL
               OR m.next_at <= m.occurred_at + make_interval(days => s.target_days)) AS moved_on
    FROM moves m JOIN journeys_stage s ON s.id = m.to_stage_id
    WHERE (m.occurred_at AT TIME ZONE %(zone)s)::date BETWEEN %(since)s AND %(until)s
      AND (%(boutiques)s::bigint[] IS NULL OR m.home_boutique_id = ANY(%(boutiques)s::bigint[]))
)
SELECT to_stage_id, COUNT(*), COUNT(*) FILTER (WHERE moved_on),
       COUNT(*) FILTER (WHERE NOT moved_on AND LEAST(CASE WHEN is_last AND exited_at >= occurred_at THEN exited_at END,
                                                     due_at) <= %(as_of)s)
FROM stays GROUP BY to_stage_id
"""
RAW_SQL_KPIS = """
WITH counted AS (
    SELECT o.customer_id, o.placed_at, o.id, o.total_house, o.total > 0 AS is_purchase, c.home_boutique_id
    FROM touchpoints_order o JOIN customers_customer c ON c.id = o.customer_id
    WHERE o.status IN ('placed', 'fulfilled')
      AND (%(boutiques)s::bigint[] IS NULL OR c.home_boutique_id = ANY(%(boutiques)s::bigint[]))
), firsts AS (
    SELECT DISTINCT ON (customer_id) customer_id, placed_at FROM counted WHERE is_purchase
    ORDER BY customer_id, placed_at, id
)
SELECT (SELECT COALESCE(SUM(total_house), 0) FROM counted
        WHERE (placed_at AT TIME ZONE %(zone)s)::date BETWEEN %(since)s AND %(until)s),
       (SELECT COUNT(*) FROM counted WHERE is_purchase
        AND (placed_at AT TIME ZONE %(zone)s)::date BETWEEN %(since)s AND %(until)s),
       (SELECT COUNT(*) FROM firsts WHERE (placed_at AT TIME ZONE %(zone)s)::date BETWEEN %(since)s AND %(until)s)
"""


def _raw_sql(statement: str, params: dict) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--raw-repeats", type=int, default=1, help="Runs of the (slow) Python reference.")
    parser.add_argument("--reseed", action="store_true")
    arguments = parser.parse_args()

    _setup_django(DATABASE)
    from django.conf import settings

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    seed_if_needed(DATABASE, arguments.customers, reseed=arguments.reseed)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from customers.models import Advisor, Customer
    from insight.models import StageStay, ValueFact
    from insight.selectors.journey_map import journey_funnel
    from insight.selectors.raw import raw_journey_funnel, raw_value_figures
    from insight.selectors.scope import insight_scope
    from insight.selectors.value import value_figures
    from insight.services import rollups_rebuild, rollups_refresh_clients
    from insight.services.rollups import clients_touched_since
    from journeys.models import Journey, Transition
    from touchpoints.models import Order

    journey = Journey.objects.get(slug="client-lifecycle")
    started = time.perf_counter()
    counts = rollups_rebuild()
    rebuild_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE insight_stagestay; ANALYZE insight_valuefact; ANALYZE insight_valueday")

    # One day of new data: the clients with an order placed or a stage move on the latest day that has any.
    last = Order.objects.order_by("-placed_at").values_list("placed_at", flat=True).first()
    day_start = timezone.localtime(last).replace(hour=0, minute=0, second=0, microsecond=0)
    day_clients = sorted(
        set(Order.objects.filter(placed_at__gte=day_start).values_list("customer_id", flat=True))
        | set(Transition.objects.filter(occurred_at__gte=day_start).values_list("enrollment__customer_id", flat=True))
    )
    started = time.perf_counter()
    refreshed = rollups_refresh_clients(customer_ids=day_clients)
    refresh_seconds = time.perf_counter() - started
    started = time.perf_counter()
    touched = clients_touched_since(day_start)
    touched_seconds = time.perf_counter() - started

    until = timezone.localdate(last)
    since = until - dt.timedelta(days=364)
    period = f"since={since}&until={until}"
    head_office = get_user_model().objects.get(username="admin")
    manager = Advisor.objects.filter(role=Advisor.Role.BOUTIQUE_MANAGER).select_related("user").first()
    urls = {
        "journey map page": f"/admin/insight/?journey={journey.pk}&{period}",
        "funnel API": f"/api/v1/insight/journeys/{journey.pk}/funnel/?{period}",
        "kpis API": f"/api/v1/insight/kpis/?{period}",
    }
    rows = []
    from insight.selectors.scope import Slices

    slices = Slices(since=since, until=until)
    as_of = timezone.now()
    for who, user in (("head office", head_office), ("manager", manager.user if manager else None)):
        if user is None:
            continue
        client = Client()
        client.force_login(user)
        for name, url in urls.items():
            p50, p95, queries = _time_request(client, url, arguments.requests)
            rows.append((who, name, "rollups", p50, p95, queries))
        scope = insight_scope(user)
        raw_funnel = _time_call(lambda scope=scope: raw_journey_funnel(journey=journey, slices=slices, scope=scope,
                                                                       as_of=as_of), arguments.raw_repeats)
        raw_value = _time_call(lambda scope=scope: raw_value_figures(slices=slices, scope=scope),
                               arguments.raw_repeats)
        rolled_funnel = journey_funnel(journey=journey, slices=slices, scope=scope, as_of=as_of)
        assert [s.as_dict() for s in rolled_funnel] == [s.as_dict() for s in raw_funnel[2]], "funnel differs"
        assert value_figures(slices=slices, scope=scope) == raw_value[2], "value differs"
        rows.append((who, "funnel", "raw, Python", raw_funnel[0], raw_funnel[1], None))
        rows.append((who, "kpis", "raw, Python", raw_value[0], raw_value[1], None))
        params = {"journey": journey.pk, "since": since, "until": until, "as_of": as_of,
                  "zone": settings.TIME_ZONE, "boutiques": scope.boutique_ids}
        sql_funnel = _time_call(lambda params=params: _raw_sql(RAW_SQL_FUNNEL, params), arguments.requests)
        by_stage = {row[0]: row[1:] for row in sql_funnel[2]}
        assert all(by_stage.get(s.stage, (0, 0, 0)) == (s.entered, s.moved_on, s.dropped) for s in rolled_funnel), \
            "raw SQL funnel differs"
        sql_kpis = _time_call(lambda params=params: _raw_sql(RAW_SQL_KPIS, params), arguments.requests)
        figures = value_figures(slices=slices, scope=scope)
        assert tuple(sql_kpis[2][0]) == (figures.revenue, figures.orders, figures.new_clients), "raw SQL kpis differ"
        rows.append((who, "funnel", "raw, SQL", sql_funnel[0], sql_funnel[1], 1))
        rows.append((who, "kpis", "raw, SQL", sql_kpis[0], sql_kpis[1], 1))
        rolled_only = _time_call(lambda scope=scope: journey_funnel(journey=journey, slices=slices, scope=scope,
                                                                    as_of=as_of), arguments.requests)
        rows.append((who, "funnel", "rollups, SQL", rolled_only[0], rolled_only[1], 3))
        value_only = _time_call(lambda scope=scope: value_figures(slices=slices, scope=scope), arguments.requests)
        rows.append((who, "kpis", "rollups, SQL", value_only[0], value_only[1], 1))

    print(f"\nInsight at {Customer.objects.count():,} clients, {Transition.objects.count():,} stage moves, "
          f"{Order.objects.count():,} orders ({StageStay.objects.count():,} stays, {ValueFact.objects.count():,} "
          "order facts)")
    print(f"full rebuild: {rebuild_seconds:.2f} s ({counts})")
    print(f"one-day refresh: {refresh_seconds:.2f} s for {len(day_clients)} clients of {day_start:%Y-%m-%d} "
          f"({refreshed}); finding the clients touched since then: {touched_seconds * 1000:.0f} ms "
          f"({len(touched)} clients)")
    print(f"period {since} .. {until}; rollup figures equal the raw ones for each user below")
    print(f"{'user':<12} {'what':<18} {'from':<13} {'p50 ms':>9} {'p95 ms':>9} {'queries':>8}")
    for who, name, source, p50, p95, queries in rows:
        print(f"{who:<12} {name:<18} {source:<13} {p50:>9.1f} {p95:>9.1f} {queries if queries is not None else '':>8}")


if __name__ == "__main__":
    main()
