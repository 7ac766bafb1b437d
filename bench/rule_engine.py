"""Benchmark the journey rule engine on scratch databases: the engine before and after a change, in the same run and
on the same data, next to the raw cost of Celery.

    .venv/bin/python bench/rule_engine.py [--clients 1000000] [--interactions 20000] [--batch 500]
                                          [--before eff7570] [--keep]

1. The scratch database (default atelier_bench_rules) is created and migrated (the default lifecycle rules come
   with it); four more interaction rules make ten active ones. `--clients` clients are seeded set-based in SQL, each
   enrolled in the lifecycle journey with a purchase on the timeline; one in a hundred last bought 400 days ago.
   `--interactions` new interactions (ten touchpoint types in the proportions of EVENT_MIX) are added for the first
   clients. The database is then cloned (CREATE DATABASE ... TEMPLATE): the engine "before" (journeys/services/
   rules.py and enrollments.py as they were at the commit `--before`, read with git show) runs on the clone, the
   engine of the working tree ("after") on the original, so that both decide on the same data.
2. Interactions through the engine with ONE worker: the interactions are sent to a real worker on Redis in tasks
   of `--batch` ids, as the listener queues them. Baseline, same run, same worker, same payloads: Celery's
   built-in no-op task (celery.accumulate).
3. One time-based rule over every client: "No purchase for a year -> Consideration, with a win-back email" run by
   rules_apply_time_based, then run again (the steady state of a day with nothing new). Baseline, same run: one
   plain scan joining every enrollment to its client.

Before and after must take the same decisions (evaluated, fired, enrolled, moved, follow-ups ... identical); the
run says so, or exits with status 1. The databases are dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from celery import shared_task

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# DEBUG off (no query log in the worker), so a key of its own for this scratch run.
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-long-enough-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_RESULT_BACKEND", os.environ["CELERY_BROKER_URL"])

from bench.seed import _drop_database, _recreate_database, _server_connection, _setup_django  # noqa: E402
from config.queues import queue_name  # noqa: E402

# The engine before the change: the commit whose rules.py and enrollments.py are measured next to the working tree's.
DEFAULT_BEFORE = "eff7570"
BEFORE_PACKAGE = "rule_engine_before"
BEFORE_DIR_VARIABLE = "BENCH_RULE_ENGINE_BEFORE_DIR"

RESULT_MARKER = "BENCH-RESULT "
# The mix of touchpoints a house records (per cent): mostly digital signals, a few sales and carts.
EVENT_MIX = [("product_view", 35), ("email_opened", 25), ("store_visit", 10), ("wishlist_added", 8),
             ("purchase", 6), ("cart_abandoned", 5), ("appointment", 5), ("survey_answered", 3),
             ("event_attended", 2), ("referral", 1)]
EVENT_TYPES = [code for code, share in EVENT_MIX for _ in range(share)]


def add_rules() -> int:
    """Four rules more than the six default interaction rules: ten active ones."""
    from journeys.models import FollowUpTemplate, Journey, Rule
    from touchpoints.models import TouchpointType

    journey = Journey.objects.get(slug="client-lifecycle")
    stages = {stage.key: stage for stage in journey.stages.all()}
    task = FollowUpTemplate.objects.create(name="Bench: call after a big appointment", channel="advisor_task")
    extra = [
        ("Big appointment → advisor task", {"min_amount": 5000, "followup_template": task}, ["appointment"], []),
        ("Event attended → Loyalty", {"to_stage": stages["loyalty"]}, ["event_attended"], ["post_purchase"]),
        ("Wishlist → Consideration", {"to_stage": stages["consideration"]}, ["wishlist_added"], ["awareness"]),
        ("Three visits in a month → Consideration",
         {"to_stage": stages["consideration"], "min_count": 3, "window_days": 30}, ["store_visit"], ["awareness"]),
    ]
    for name, values, types, from_stages in extra:
        rule = Rule.objects.create(journey=journey, name=name, trigger="interaction", priority=70, **values)
        rule.touchpoint_types.set(TouchpointType.objects.filter(code__in=types))
        rule.from_stages.set([stages[key] for key in from_stages])
    return Rule.objects.filter(is_active=True, trigger="interaction").count()


def seed_clients(clients: int) -> float:
    """Clients, their lifecycle enrollment and one purchase each, set-based; returns the seconds it took."""
    from django.db import connection

    from journeys.models import Journey

    journey = Journey.objects.get(slug="client-lifecycle")
    stage_ids = dict(journey.stages.values_list("key", "pk"))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        logging.disable(logging.INFO)  # the services log every move and follow-up
        # The history triggers (pghistory) would write a row per client: a bulk load skips them.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            """
            INSERT INTO customers_customer (created_at, updated_at, public_id, first_name, last_name, email, phone,
                language, city, country, value_tier, preferences, advisor_notes, consent, lifetime_value, order_count,
                average_order_value, is_anonymized, birth_date, first_order_at, last_order_at)
            SELECT now(), now(), gen_random_uuid(), 'Client', 'N' || g, 'bench' || g || '@example.com', '', 'fr',
                'Paris', 'FR', (ARRAY['prospect','client','gold','platinum','vic'])[1 + g %% 5], '{}', '', '{}', 1200,
                1, 1200, false, date '1950-01-01' + (g %% 20000),
                now() - make_interval(days => CASE WHEN g %% 100 = 0 THEN 400 ELSE g %% 300 END),
                now() - make_interval(days => CASE WHEN g %% 100 = 0 THEN 400 ELSE g %% 300 END)
            FROM generate_series(1, %(clients)s) g
            """,
            {"clients": clients},
        )
        cursor.execute(
            """
            INSERT INTO journeys_enrollment (created_at, updated_at, customer_id, journey_id, stage_id,
                stage_entered_at, enrolled_at)
            SELECT now(), now(), c.id, %(journey)s,
                (ARRAY[%(post)s, %(loyalty)s, %(advocacy)s, %(awareness)s]::bigint[])[1 + c.id %% 4],
                c.last_order_at, c.last_order_at
            FROM customers_customer c
            """,
            {"journey": journey.pk, "post": stage_ids["post_purchase"], "loyalty": stage_ids["loyalty"],
             "advocacy": stage_ids["advocacy"], "awareness": stage_ids["awareness"]},
        )
        cursor.execute(
            """
            INSERT INTO touchpoints_interaction (customer_id, touchpoint_type_id, occurred_at, channel, source,
                external_id, amount, currency, metadata, created_at)
            SELECT c.id, (SELECT id FROM touchpoints_touchpointtype WHERE code = 'purchase'), c.last_order_at,
                'boutique', 'pos', 'seed:' || c.id, 1200, 'EUR', '{}', now()
            FROM customers_customer c
            """
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE customers_customer; ANALYZE journeys_enrollment; ANALYZE touchpoints_interaction")
    return time.perf_counter() - started


def seed_interactions(count: int) -> list[int]:
    """`count` new interactions of the ten types (EVENT_MIX, spread over the ids) for the first clients."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO touchpoints_interaction (customer_id, touchpoint_type_id, occurred_at, channel, source,
                external_id, amount, currency, metadata, created_at)
            SELECT c.id, t.id, now() - make_interval(mins => g %% 600), t.channel, 'atelier', 'bench:' || g,
                CASE WHEN t.code IN ('purchase', 'appointment') THEN 800 + (g %% 10) * 600 END,
                CASE WHEN t.code IN ('purchase', 'appointment') THEN 'EUR' ELSE '' END,
                CASE WHEN t.code = 'survey_answered' THEN jsonb_build_object('score', g %% 11) ELSE '{}' END, now()
            FROM generate_series(1, %(count)s) g
            JOIN customers_customer c ON c.id = (SELECT min(id) FROM customers_customer) + g / 2
            JOIN touchpoints_touchpointtype t ON t.code = (%(types)s::text[])[1 + (g * 37) %% 100]
            RETURNING touchpoints_interaction.id
            """,
            {"count": count, "types": EVENT_TYPES},
        )
        return sorted(row[0] for row in cursor.fetchall())


def write_before_package(ref: str) -> Path:
    """journeys/services/enrollments.py and rules.py as they were at `ref`, as a package of their own (rules.py
    importing that enrollments.py), in a temporary directory; returns the directory."""
    directory = Path(tempfile.mkdtemp(prefix="bench-rules-before-"))
    package = directory / BEFORE_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("enrollments", "rules"):
        try:
            source = subprocess.run(["git", "show", f"{ref}:journeys/services/{name}.py"], cwd=PROJECT_ROOT,
                                    check=True, capture_output=True, text=True).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            raise SystemExit(f"Cannot read journeys/services/{name}.py at {ref!r} with git: {error}") from error
        source = source.replace("from journeys.services.enrollments import",
                                f"from {BEFORE_PACKAGE}.enrollments import")
        (package / f"{name}.py").write_text(source)
    return directory


def before_rules():
    """The rules module before the change (write_before_package's, found through BEFORE_DIR_VARIABLE)."""
    directory = os.environ[BEFORE_DIR_VARIABLE]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return importlib.import_module(f"{BEFORE_PACKAGE}.rules")


@shared_task(name="bench.rule_engine.before")
def rules_before_task(interaction_ids: list[int]) -> dict[str, int]:
    """rules_apply_to_interactions_task, with the engine before the change (runs in the bench's worker)."""
    return before_rules().rules_apply_to_interactions(interaction_ids=interaction_ids).as_dict()


def start_worker(database: str) -> tuple[subprocess.Popen, str]:
    from django.conf import settings

    from config.celery import app

    params = settings.DATABASES["default"]
    user, host, port = params["USER"] or "postgres", params["HOST"] or "127.0.0.1", params["PORT"] or 5432
    url = f"postgres://{user}@{host}:{port}/{database}"
    # The run's own queue namespace: what the rules queue in turn stays with this worker, away from any other
    # installation's worker on the broker (a demo's would run it against the demo's database).
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    queue = queue_name(prefix, "default")
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false",
           "CELERY_QUEUE_PREFIX": prefix}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
         "-n", f"{prefix}@%h", "--include", "bench.rule_engine"],
        cwd=PROJECT_ROOT, env=env,
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[f"{prefix}@{os.uname().nodename}"], timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("The Celery worker did not start.")
    return worker, queue


def run_tasks(send, batches: list[list[int]]) -> tuple[float, list]:
    """Send one task per batch, then wait for every result: seconds from the first send to the last result."""
    started = time.perf_counter()
    results = [send(batch) for batch in batches]
    values = [result.get(timeout=600) for result in results]
    return time.perf_counter() - started, values


def event_phase(*, database: str, ids: list[int], batch: int, engine: str) -> dict:
    """The interactions through the engine ("before" or "after") on one worker, next to empty tasks."""
    from config.celery import app
    from journeys.tasks import rules_apply_to_interactions_task

    batches = [ids[start:start + batch] for start in range(0, len(ids), batch)]
    worker, queue = start_worker(database)
    try:
        # Warm both paths (imports, connections) on a first batch that is not counted.
        app.signature("celery.accumulate", args=(0,)).apply_async(queue=queue).get(timeout=60)
        baseline, _ = run_tasks(
            lambda ids: app.signature("celery.accumulate", args=(ids,)).apply_async(queue=queue), batches
        )
        task = rules_before_task if engine == "before" else rules_apply_to_interactions_task
        seconds, outcomes = run_tasks(lambda ids: task.apply_async(args=[ids], queue=queue), batches)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    totals = {name: sum(outcome[name] for outcome in outcomes) for name in outcomes[0]}
    return {
        "interactions": len(ids), "tasks": len(batches), "batch": batch,
        "baseline_seconds": round(baseline, 2), "engine_seconds": round(seconds, 2),
        "baseline_per_second": round(len(ids) / baseline), "engine_per_second": round(len(ids) / seconds),
        "outcome": totals,
    }


def time_phase(*, engine: str) -> dict:
    from django.db import connection

    from journeys.models import Rule

    if engine == "before":
        rules_apply_time_based = before_rules().rules_apply_time_based
    else:
        from journeys.services import rules_apply_time_based

    rule = Rule.objects.get(name__startswith="No purchase for a year")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM journeys_enrollment e JOIN customers_customer c ON c.id = e.customer_id "
            "WHERE e.journey_id = %s AND e.exited_at IS NULL AND NOT c.is_anonymized", [rule.journey_id]
        )
        scanned = cursor.fetchone()[0]
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    first = rules_apply_time_based(rule_ids=[rule.pk])[rule.pk]
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = rules_apply_time_based(rule_ids=[rule.pk])[rule.pk]
    again_seconds = time.perf_counter() - started
    return {
        "clients_in_journey": scanned, "baseline_scan_seconds": round(baseline, 2),
        "first_run_seconds": round(first_seconds, 2), "first_run": first.as_dict(),
        "first_run_per_second": round(scanned / first_seconds) if first_seconds else None,
        "second_run_seconds": round(again_seconds, 2), "second_run": again.as_dict(),
    }


def use_database(name: str) -> None:
    """Point this process's Django connection at another scratch database."""
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def clone_database(source: str, target: str) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with _server_connection() as server:
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        server.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target),
                                                                        sql.Identifier(source)))


def print_engine(label: str, events: dict, timed: dict, active_rules: int) -> None:
    print(
        f"\n[{label}] interactions through the rule engine, one worker, {events['tasks']} tasks of {events['batch']}:\n"
        f"  baseline (empty tasks, same payloads): {events['baseline_seconds']:>7} s  "
        f"{events['baseline_per_second']:>7,} interactions/s\n"
        f"  rule engine ({active_rules} rules):          {events['engine_seconds']:>7} s  "
        f"{events['engine_per_second']:>7,} interactions/s\n"
        f"  outcome: {events['outcome']}\n"
        f"[{label}] one time-based rule (no purchase for a year) over {timed['clients_in_journey']:,} clients:\n"
        f"  baseline (one scan of enrollments and clients): {timed['baseline_scan_seconds']:>7} s\n"
        f"  first run:  {timed['first_run_seconds']:>7} s  {timed['first_run_per_second'] or 0:>9,} clients/s  "
        f"{timed['first_run']}\n"
        f"  second run: {timed['second_run_seconds']:>7} s  {timed['second_run']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--interactions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="Interaction ids per task (JOURNEY_RULES_BATCH_SIZE).")
    parser.add_argument("--database", default="atelier_bench_rules")
    parser.add_argument("--before", default=DEFAULT_BEFORE,
                        help="The git commit whose rule engine is measured next to the working tree's.")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    os.environ[BEFORE_DIR_VARIABLE] = str(write_before_package(args.before))
    before_database = f"{args.database}_before"
    _setup_django()
    server_version = _recreate_database(args.database)
    from django.db import connections

    connections.close_all()
    _setup_django(args.database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    active_rules = add_rules()
    print(f"PostgreSQL {server_version}; {active_rules} active interaction rules; before = {args.before}.", flush=True)
    try:
        seed_seconds = seed_clients(args.clients)
        ids = seed_interactions(args.interactions)
        print(f"Seeded {args.clients:,} clients, enrollments and purchases, and {len(ids):,} new interactions in "
              f"{seed_seconds:.1f} s.", flush=True)
        clone_database(args.database, before_database)
        results = {}
        for engine, database in (("before", before_database), ("after", args.database)):
            use_database(database)
            events = event_phase(database=database, ids=ids, batch=args.batch, engine=engine)
            timed = time_phase(engine=engine)
            results[engine] = {"events": events, "time_based": timed}
            print_engine(engine, events, timed, active_rules)
        before, after = results["before"], results["after"]
        same = (before["events"]["outcome"] == after["events"]["outcome"]
                and before["time_based"]["first_run"] == after["time_based"]["first_run"]
                and before["time_based"]["second_run"] == after["time_based"]["second_run"])
        event_ratio = after["events"]["engine_per_second"] / before["events"]["engine_per_second"]
        time_ratio = before["time_based"]["first_run_seconds"] / max(after["time_based"]["first_run_seconds"], 1e-9)
        print(
            f"\nSame decisions before and after: {'yes' if same else 'NO'}.\n"
            f"Interactions: {before['events']['engine_per_second']:,}/s before, "
            f"{after['events']['engine_per_second']:,}/s after ({event_ratio:.2f}x).\n"
            f"Time rule, first run: {before['time_based']['first_run_seconds']} s before, "
            f"{after['time_based']['first_run_seconds']} s after ({time_ratio:.2f}x faster).\n"
            f"Load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} cores.",
            flush=True,
        )
        print(RESULT_MARKER + json.dumps({"clients": args.clients, "seed_seconds": round(seed_seconds, 1),
                                          "before_commit": args.before, "same_decisions": same, **results}))
        if not same:
            raise SystemExit(1)
    finally:
        if not args.keep:
            _drop_database(before_database)
            _drop_database(args.database)


if __name__ == "__main__":
    main()
