"""Benchmark `manage.py import_legacy` on generated legacy files, side by side with its baselines, in one run.

    .venv/bin/python bench/import_legacy.py customers --rows 1000000
    .venv/bin/python bench/import_legacy.py orders --lines 2000000 [--customers 500000]
    options: [--file PATH (reuse a generated file)] [--seed 42] [--slice 20000] [--database atelier_bench_import]

Each figure comes from its own child process, so each peak memory is its own (VmHWM of that process; the worker
processes that clean rows for import_legacy are reported apart, as the largest one's peak):
- import_legacy KIND FILE --valid-only, the command itself, on a scratch database holding the demo house (for an
  order file, with the client file of the same seed imported first, untimed, since orders never create clients);
- (a) django-import-export's default row-by-row import of the file's first --slice rows (client files:
  bench/import_export_baseline.py; an order line has no row-by-row resource of the library's to compare with);
- (b) PostgreSQL COPY of the whole file into a bare table, no parsing in Python (bench/import_copy_baseline.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.import_copy_baseline import RESULT_MARKER, peak_memory_mb  # noqa: E402
from bench.legacy_files import write_customer_file, write_order_file  # noqa: E402

DEFAULT_DATABASE = "atelier_bench_import"
PASSWORD = "bench-only-password-2026"


def _scratch_url(database: str) -> str:
    from bench.seed import _setup_django

    _setup_django()
    from django.conf import settings

    params = settings.DATABASES["default"]
    credentials = params.get("USER") or "postgres"
    if params.get("PASSWORD"):
        credentials += f":{params['PASSWORD']}"
    return f"postgres://{credentials}@{params.get('HOST') or '127.0.0.1'}:{params.get('PORT') or 5432}/{database}"


def _results(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True,
                               env={**os.environ, **(env or {})})
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    raise RuntimeError(f"{command} printed no result:\n{completed.stdout}")


def phase_import(kind: str, path: str, clients: str | None) -> dict[str, Any]:
    """In a child process (DATABASE_URL is the scratch database): the house, the clients first for orders, then
    the timed import_legacy."""
    import resource

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from bench.generator import generate
    from imports.models import ImportBatch

    call_command("migrate", verbosity=0)
    generate(customers=0, seed=42, password=PASSWORD)
    if clients:
        began = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            try:
                call_command("import_legacy", "customers", clients, "--valid-only", stdout=quiet, verbosity=0)
            except CommandError as refused:  # the messy file's broken rows: exit code 1, valid rows imported
                if refused.returncode != 1:
                    raise
        print(f"  clients for the orders imported in {time.perf_counter() - began:.1f} s (untimed)", file=sys.stderr)
    before = peak_memory_mb()
    began = time.perf_counter()
    try:
        call_command("import_legacy", kind, path, "--valid-only", verbosity=1)
    except CommandError as refused:
        if refused.returncode != 1:
            raise
    seconds = time.perf_counter() - began
    batch = ImportBatch.objects.filter(kind=kind).latest("created_at")
    return {"rows": batch.total_rows, "seconds": seconds, "peak_mb": peak_memory_mb(), "before_mb": before,
            "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "counts": batch.counts}


def _print(label: str, rows: int, seconds: float, peak: float, note: str = "") -> None:
    print(f"{label:<46}{rows:>12,}{seconds:>10.1f}{rows / seconds if seconds else 0:>11,.0f}{peak:>9.0f}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("customers", "orders"))
    parser.add_argument("--rows", type=int, default=100_000, help="Client rows (customers).")
    parser.add_argument("--lines", type=int, default=200_000, help="Order lines (orders).")
    parser.add_argument("--customers", type=int, help="Clients the orders refer to (default lines/4).")
    parser.add_argument("--file", type=Path, help="Use this generated file instead of writing one.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--slice", type=int, default=20_000, help="Rows for django-import-export's import.")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--clients", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.phase:
        print(RESULT_MARKER + json.dumps(phase_import(arguments.kind, arguments.phase, arguments.clients)),
              flush=True)
        return

    folder = Path(tempfile.mkdtemp(prefix="atelier-import-bench-"))
    clients_file = None
    if arguments.kind == "customers":
        path = arguments.file or folder / f"customers_{arguments.rows}.csv"
        if not arguments.file:
            stats = write_customer_file(path, rows=arguments.rows, seed=arguments.seed)
            print(f"{path.name}: {stats.rows:,} rows, {stats.bytes / 2**20:.1f} MiB, {stats.persons:,} persons, "
                  f"written in {stats.seconds:.1f} s")
    else:
        customers = arguments.customers or max(1, arguments.lines // 4)
        path = arguments.file or folder / f"orders_{arguments.lines}.csv"
        if not arguments.file:
            stats = write_order_file(path, lines=arguments.lines, customers=customers, seed=arguments.seed)
            print(f"{path.name}: {stats.rows:,} lines, {stats.orders:,} orders, {stats.bytes / 2**20:.1f} MiB, "
                  f"written in {stats.seconds:.1f} s")
        # Orders refer to clients 1..customers of the client file of the same seed; one row per person and its
        # duplicates are about customers * 1.1 rows.
        clients_file = folder / "clients_for_orders.csv"
        write_customer_file(clients_file, rows=int(customers * 1.15) + 100, seed=arguments.seed)

    url = _scratch_url(arguments.database)
    from bench.seed import _drop_database, _recreate_database

    version = _recreate_database(arguments.database)
    print(f"Scratch database {arguments.database} on PostgreSQL {version}; {os.cpu_count()} CPUs.")
    try:
        command = [sys.executable, __file__, arguments.kind, "--phase", str(path)]
        if clients_file:
            command += ["--clients", str(clients_file)]
        ours = _results(command, env={"DATABASE_URL": url})
    finally:
        _drop_database(arguments.database)
    library = None
    if arguments.kind == "customers":
        library = _results([sys.executable, str(PROJECT_ROOT / "bench" / "import_export_baseline.py"), str(path),
                            "--rows", str(arguments.slice), "--database", f"{arguments.database}_iex"])
    copy_output = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "import_copy_baseline.py"), str(path), "--database",
         f"{arguments.database}_copy"], stdout=subprocess.PIPE, text=True, check=True).stdout
    copy_line = next(line for line in copy_output.splitlines() if line.startswith(path.name))
    copy_rows, copy_seconds, copy_peak = _copy_figures(copy_line)

    print()
    print(f"{path.name}  ({arguments.kind})")
    print(f"{'':<46}{'rows':>12}{'seconds':>10}{'rows/s':>11}{'peak MB':>9}")
    _print("import_legacy --valid-only", ours["rows"], ours["seconds"], ours["peak_mb"],
           f"(before import {ours['before_mb']:.0f} MB; largest worker {ours['workers_peak_mb']:.0f} MB)")
    if library:
        _print(f"(a) django-import-export row by row, {library['rows']:,} rows", library["rows"],
               library["seconds"], library["peak_mb"], f"totals {library['totals']}")
    _print("(b) PostgreSQL COPY into a bare table", copy_rows, copy_seconds, copy_peak)
    ours_rate = ours["rows"] / ours["seconds"]
    print(f"import_legacy: {ours_rate:,.0f} rows/s, {copy_rows / copy_seconds / ours_rate:.1f}x slower than COPY"
          + (f", {ours_rate / (library['rows'] / library['seconds']):.0f}x faster than row by row" if library
             else ""))
    print(f"counts {ours['counts']}")
    for leftover in (path if not arguments.file else None, clients_file):
        if leftover:
            leftover.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


def _copy_figures(line: str) -> tuple[int, float, float]:
    """rows, seconds and peak MB from a line of import_copy_baseline's table."""
    fields = line.split()
    return int(fields[1].replace(",", "")), float(fields[3]), float(fields[6])


if __name__ == "__main__":
    main()
