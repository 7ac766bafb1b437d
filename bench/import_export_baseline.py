"""The library baseline of an import: django-import-export's default row-by-row import of the first rows of a file.

    .venv/bin/python bench/import_export_baseline.py FILE [--rows 20000] [--database atelier_bench_iex] [--keep]

A plain ModelResource of the client, keyed on the email, imports the first `--rows` rows of the same legacy file
the importer reads, the way the library does by default: one row at a time (find the instance, set its fields, save
it), in one transaction, errors collected per row. It knows nothing of identities, consent, deduplication by phone,
normalization or history; it is there for its speed, which is what a house gets without a set-based importer.
The scratch database holds the demo house (boutiques, advisors, personas) and is dropped at the end unless --keep.
Prints one BENCH-RESULT line of JSON (rows, seconds, peak memory of this process) for bench/import_legacy.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.import_copy_baseline import RESULT_MARKER, peak_memory_mb  # noqa: E402

DEFAULT_DATABASE = "atelier_bench_iex"
DEFAULT_ROWS = 20_000
COLUMNS = ("email", "first_name", "last_name", "phone", "city", "language", "advisor_notes")


def _resource_class() -> type:
    from import_export import resources

    from customers.models import Customer

    class ClientRowByRowResource(resources.ModelResource):
        """The library's defaults over the client's plain columns: found by email, saved one by one."""

        class Meta:
            model = Customer
            fields = COLUMNS
            import_id_fields = ("email",)
            skip_unchanged = True

    return ClientRowByRowResource


def _dataset(path: Path, rows: int) -> object:
    import tablib

    from imports.reader import open_source

    # The reader settles the encoding and delimiter; the library then gets the slice as a tablib Dataset.
    table = open_source(path, fields=set(COLUMNS))
    dataset = tablib.Dataset(headers=list(COLUMNS))
    for row in itertools.islice(table, rows):
        dataset.append([row.values.get(column, "") for column in COLUMNS])
    return dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--keep", action="store_true")
    arguments = parser.parse_args()

    from bench.seed import _drop_database, _recreate_database, _setup_django

    _setup_django(arguments.database)
    _recreate_database(arguments.database)
    from django.core.management import call_command

    from bench.generator import generate

    try:
        call_command("migrate", verbosity=0)
        generate(customers=0, seed=42, password="bench-only-password-2026")
        dataset = _dataset(arguments.file, arguments.rows)
        resource = _resource_class()()
        began = time.perf_counter()
        result = resource.import_data(dataset, dry_run=False, use_transactions=True, raise_errors=False)
        seconds = time.perf_counter() - began
        totals = dict(result.totals)
        print(RESULT_MARKER + json.dumps({
            "rows": len(dataset), "seconds": seconds, "peak_mb": peak_memory_mb(),
            "totals": totals, "row_errors": len(result.row_errors()), "invalid_rows": len(result.invalid_rows),
        }))
    finally:
        if not arguments.keep:
            _drop_database(arguments.database)


if __name__ == "__main__":
    main()
