"""Benchmark the client import: `import_file` on a generated legacy file, next to PostgreSQL COPY of the same file.

    .venv/bin/python bench/import_customers.py [--rows 100000] [--seed 42] [--database atelier_bench_import] [--keep]

The file comes from bench.legacy_files (messy: duplicates, broken rows, untidy values) and is imported with
"valid rows only" into a scratch database created on the server the settings point at (the demo house installed by
bench.generator, so boutique codes, advisor emails and persona names resolve). The COPY baseline runs in its own
child process (bench/import_copy_baseline.py), so each peak memory figure is its own. Peak memory is VmHWM.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.import_copy_baseline import peak_memory_mb  # noqa: E402
from bench.legacy_files import write_customer_file  # noqa: E402

DEFAULT_DATABASE = "atelier_bench_import"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="Scratch database (dropped and created).")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database at the end.")
    arguments = parser.parse_args()

    from bench.seed import _drop_database, _recreate_database, _setup_django

    folder = Path(tempfile.mkdtemp(prefix="atelier-import-bench-"))
    path = folder / f"customers_{arguments.rows}.csv"
    stats = write_customer_file(path, rows=arguments.rows, seed=arguments.seed)
    print(f"{path.name}: {stats.rows:,} rows, {stats.bytes / 2**20:.1f} MiB, {stats.persons:,} persons, "
          f"duplicates {stats.duplicates}, broken {stats.broken}, written in {stats.seconds:.1f} s")

    _setup_django(arguments.database)  # no connection is open yet: the scratch database is made on the same server
    version = _recreate_database(arguments.database)
    from django.core.management import call_command

    from bench.generator import generate
    from imports.services import import_file

    try:
        call_command("migrate", verbosity=0)
        generate(customers=0, seed=arguments.seed, password="bench-only-password-2026")
        print(f"Scratch database {arguments.database} on PostgreSQL {version}, {os.cpu_count()} CPUs.")
        before = peak_memory_mb()
        began = time.perf_counter()
        batch = import_file(kind="customers", source=path, file_name=path.name, valid_only=True)
        seconds = time.perf_counter() - began
        peak = peak_memory_mb()
        print()
        print(f"{'import_file (valid rows only)':<34}{'rows':>12}{'seconds':>9}{'rows/s':>11}{'peak MB':>9}")
        print(f"{path.name:<34}{stats.rows:>12,}{seconds:>9.2f}{stats.rows / seconds:>11,.0f}{peak:>9.0f}"
              f"  (before import {before:.0f} MB)")
        print(f"counts {batch.counts}; expected clients {stats.expected_clients:,}, invalid {stats.invalid_rows:,}")
    finally:
        if arguments.keep:
            print(f"Kept the scratch database {arguments.database}.")
        else:
            _drop_database(arguments.database)

    import subprocess

    print()
    subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "import_copy_baseline.py"), str(path),
                    "--database", f"{arguments.database}_copy"], check=True)
    path.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
