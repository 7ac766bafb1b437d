"""`manage.py import_legacy KIND FILE`: bring a legacy file in as one batch, with a progress bar and a summary.

Exit code 0 when every row was accepted, 1 when rows were refused (the file is then not imported at all, unless
--valid-only), and CommandError's code for a file that cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.errors import ApplicationError
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportKind
from imports.reader import DELIMITER_NAMES
from imports.services import import_errors_csv, import_file

ERRORS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Import a legacy CSV file (any common encoding and delimiter) or Excel workbook as one batch: all or nothing "
        "unless --valid-only, or a preview with --dry-run. Exit code 1 when rows were refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportKind.values, help="What the file holds.")
        parser.add_argument("file", help="The CSV or .xlsx file.")
        parser.add_argument("--mapping", metavar="FILE", help="Column mapping (.yaml, .yml or .json).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would happen; write nothing.")
        parser.add_argument(
            "--valid-only", action="store_true", help="Import the valid rows and report the others (default: refuse "
            "the whole file when a row is invalid)."
        )
        parser.add_argument(
            "--run-journey-rules", action="store_true", help="Let the journey rules react to the interactions and "
            "orders imported (moves, follow-ups). Off by default: history must not send messages."
        )
        parser.add_argument("--encoding", help="The file's encoding (default: detected), e.g. utf-8, cp1252.")
        parser.add_argument("--delimiter", help="The file's delimiter (default: detected): , ; tab or |.")
        parser.add_argument("--errors-csv", metavar="PATH", help="Write every refused row to this CSV file.")

    def handle(self, *args: Any, **options: Any) -> None:
        kind, path = options["kind"], Path(options["file"])
        try:
            mapping = ColumnMapping.from_file(options["mapping"]) if options["mapping"] else None
        except ApplicationError as error:
            raise CommandError(error.message) from None
        bar = tqdm(unit=" rows", file=sys.stderr, desc=path.name, disable=options.get("verbosity", 1) < 1)
        try:
            batch = import_file(
                kind=kind,
                source=path,
                file_name=path.name,
                mapping=mapping,
                encoding=options["encoding"],
                delimiter=options["delimiter"],
                dry_run=options["dry_run"],
                valid_only=options["valid_only"],
                runs_automation=options["run_journey_rules"],
                progress=bar.update,
            )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        finally:
            bar.close()
        self._summary(batch, errors_csv=options["errors_csv"])
        invalid = batch.counts.get("invalid", 0)
        if invalid:
            noun = "order(s)" if kind == ImportKind.ORDERS else "row(s)"
            raise CommandError(f"{invalid} {noun} refused.", returncode=1)

    def _summary(self, batch: ImportBatch, *, errors_csv: str | None) -> None:
        write = self.stdout.write
        counts = batch.counts
        outcome = {
            ImportBatch.Status.IMPORTED: "Imported",
            ImportBatch.Status.PREVIEWED: "Dry run: nothing was written",
            ImportBatch.Status.REJECTED: "Rejected: invalid rows, nothing was written (use --valid-only to import the "
            "valid rows)",
        }.get(batch.status, batch.get_status_display())
        write(f"{outcome}. Batch {batch.pk}, {batch.file_name}")
        if batch.encoding == "xlsx":
            write(f"Read as an Excel workbook (its first sheet); {batch.total_rows} rows")
        else:
            write(
                f"Read as {batch.encoding}, {DELIMITER_NAMES.get(batch.delimiter, repr(batch.delimiter))}-separated; "
                f"{batch.total_rows} rows"
            )
        write("  ".join(f"{name}: {counts.get(name, 0)}" for name in ("new", "updated", "unchanged", "skipped",
                                                                      "invalid")))
        if (batch.preview or {}).get("counted_as"):
            write(batch.preview["counted_as"])  # a kind whose records span rows (orders) counts records
        errors = list(batch.row_errors.order_by("line", "pk")[:ERRORS_SHOWN])
        if errors:
            write("Refused rows:")
            for error in errors:
                column = f", {error.column}" if error.column else ""
                write(f"  line {error.line}{column}: {error.message}")
            total = counts.get("invalid", 0)
            if errors_csv:
                with open(errors_csv, "w", encoding="utf-8", newline="") as stream:
                    import_errors_csv(batch=batch, stream=stream)
                write(f"All {total} refused rows are in {errors_csv}.")
            elif total > len(errors):
                write(f"… and {total - len(errors)} more: add --errors-csv PATH to get them all.")
            else:
                write("Add --errors-csv PATH to get them as CSV.")
