"""Benchmark the data generator on a scratch database: COPY in chunks, against the naive ORM in the same run.

    .venv/bin/python bench/seed.py --customers 100000 [--seed 42] [--naive-customers 1000] [--keep]

The scratch database (default atelier_bench_seed) is created on the server the settings point at: DATABASE_URL
when set, else the PostgreSQL on 127.0.0.1:5432 when it answers, else the embedded server. It is migrated, then
each method runs in its own child process so that each peak memory figure (ru_maxrss) is its own. The database is
dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

RESULT_MARKER = "BENCH-RESULT "


def _setup_django(database: str | None = None) -> None:
    """Configure Django, preferring a local server to the embedded one, and point it at `database`."""
    from config.probes import tcp_port_answers

    if not os.environ.get("DATABASE_URL") and tcp_port_answers("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/atelier"
    import django
    from django.conf import settings

    django.setup()
    if database:
        # No connection is open yet, so every connection from here on uses the scratch database.
        settings.DATABASES["default"]["NAME"] = database


def _server_connection() -> Any:
    """A psycopg connection to the server's maintenance database, with Django's connection parameters."""
    import psycopg
    from django.conf import settings

    params = settings.DATABASES["default"]
    return psycopg.connect(
        dbname="postgres",
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None,
        port=params.get("PORT") or None,
        autocommit=True,
    )


def _recreate_database(name: str) -> str:
    from psycopg import sql

    with _server_connection() as server:
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return server.execute("SHOW server_version").fetchone()[0]


def _drop_database(name: str) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with _server_connection() as server:
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def seed_if_needed(database: str, customers: int, *, reseed: bool = False) -> None:
    """Seed a kept scratch database with the demo generator unless it holds `customers` clients already (then only
    migrate it to the current schema); `reseed` rebuilds it. Django must point at `database` (_setup_django)."""
    from django.core.management import call_command
    from django.db import connections

    from customers.models import Customer

    try:
        existing = Customer.objects.count()
    except Exception:  # noqa: BLE001 - no schema yet: the database is new
        existing = -1
    if existing >= customers and not reseed:
        print(f"Reusing {database} with {existing:,} clients (migrating it to the current schema).")
        call_command("migrate", verbosity=0)
        return
    connections.close_all()
    _recreate_database(database)
    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=customers, verbosity=1)
    # A house's database has been vacuumed by autovacuum long before anyone measures it; a freshly loaded one has
    # no visibility map, so index-only scans (the counts of the client list) would read the heap row by row.
    with connections["default"].cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def run_phase(*, method: str, database: str, customers: int, seed: int, start: int, chunk_size: int) -> dict:
    """In a child process: generate into `database` with one method and report rows, time and peak memory."""
    _setup_django(database)
    from tqdm import tqdm

    from bench.generator import generate
    from bench.import_copy_baseline import peak_memory_mb

    with tqdm(total=customers, unit=" clients", desc=f"{method:>4}", file=sys.stderr) as bar:
        result = generate(customers=customers, seed=seed, password="bench-password-not-secret", start=start,
                          method=method, chunk_size=chunk_size, progress=bar.update)
    return {
        "method": method,
        "customers": customers,
        "rows": result.rows,
        "seconds": result.seconds,
        "counts": result.counts,
        "peak_mb": peak_memory_mb(),
    }


def _child(method: str, arguments: argparse.Namespace, *, customers: int, start: int) -> dict:
    command = [
        sys.executable, __file__, "--phase", method, "--database", arguments.database, "--customers", str(customers),
        "--seed", str(arguments.seed), "--start", str(start), "--chunk-size", str(arguments.chunk_size),
    ]
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True, env=os.environ.copy())
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    raise RuntimeError(f"The {method} run printed no result:\n{completed.stdout}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="Clients for the COPY run (default 100000).")
    parser.add_argument("--naive-customers", type=int, default=1_000,
                        help="Clients for the ORM baseline, one create() per row (default 1000).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--chunk-size", type=int, default=5_000)
    parser.add_argument("--database", default="atelier_bench_seed", help="Scratch database (dropped and created).")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database at the end.")
    parser.add_argument("--phase", choices=("copy", "orm"), help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.phase:
        result = run_phase(method=arguments.phase, database=arguments.database, customers=arguments.customers,
                           seed=arguments.seed, start=arguments.start, chunk_size=arguments.chunk_size)
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return

    _setup_django()
    from django.conf import settings
    from django.core.management import call_command

    params = settings.DATABASES["default"]
    if params["NAME"] == arguments.database:
        raise SystemExit(f"The scratch database {arguments.database!r} is the configured database; choose another.")
    where = f"{params.get('HOST') or 'local socket'}:{params.get('PORT') or 5432}"
    version = _recreate_database(arguments.database)
    settings.DATABASES["default"]["NAME"] = arguments.database
    try:
        began = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"Scratch database {arguments.database} on PostgreSQL {version} at {where}, migrated in "
              f"{time.perf_counter() - began:.1f} s. Python {platform.python_version()}, {os.cpu_count()} CPUs.")
        copy = _child("copy", arguments, customers=arguments.customers, start=0)
        # The baseline's clients come after the COPY run's, so their emails and external ids do not collide.
        naive = _child("orm", arguments, customers=arguments.naive_customers, start=arguments.customers)
    finally:
        if arguments.keep:
            print(f"Kept the scratch database {arguments.database}.")
        else:
            _drop_database(arguments.database)

    print()
    print(f"{'method':<34}{'clients':>10}{'rows':>12}{'seconds':>10}{'rows/s':>10}{'peak MB':>10}")
    for label, run in (("COPY, chunks of " + f"{arguments.chunk_size:,}", copy),
                       ("ORM, one objects.create() per row", naive)):
        rate = run["rows"] / run["seconds"]
        print(f"{label:<34}{run['customers']:>10,}{run['rows']:>12,}{run['seconds']:>10.1f}{rate:>10,.0f}"
              f"{run['peak_mb']:>10.0f}")
    speedup = (copy["rows"] / copy["seconds"]) / (naive["rows"] / naive["seconds"])
    print(f"COPY writes {speedup:,.0f}x more rows per second than the naive ORM loop.")
    print()
    print("Rows per table (COPY run):")
    for label, count in copy["counts"].items():
        print(f"  {label:<28}{count:>12,}")


if __name__ == "__main__":
    main()
