"""`manage.py export_data KIND FILE`: every row of one kind to CSV or XLSX, in the form the importer reads back."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.errors import ApplicationError
from customers.models import Boutique
from imports.exports import CSV, FORMATS, XLSX, export_kind, export_queryset, write_export
from imports.models import ImportKind


class Command(BaseCommand):
    help = (
        "Export every row of one kind (the whole house: the command line is not scoped to a boutique unless "
        "--boutique says so) to a CSV or XLSX file that import_legacy reads back unchanged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportKind.values, help="What to export.")
        parser.add_argument("file", help="The file to write (replaced if it exists), or - for standard output.")
        parser.add_argument(
            "--format", choices=FORMATS, default=None,
            help="csv or xlsx (default: from the file's extension, else csv).",
        )
        parser.add_argument(
            "--boutique", metavar="CODE", default=None,
            help="Only this boutique's clients and what belongs to them (or this boutique itself). Products and "
            "personas are the whole house's and export whole.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind, target = options["kind"], options["file"]
        fmt = options["format"] or (XLSX if target.lower().endswith(".xlsx") else CSV)
        if fmt == XLSX and target == "-":
            raise CommandError("XLSX cannot be written to standard output; give a file name.")
        boutique = self._boutique(options["boutique"])
        total = export_queryset(kind=kind, boutique=boutique).count()
        started = time.monotonic()
        with tqdm(total=total, unit=" rows", file=sys.stderr, disable=options["verbosity"] == 0) as progress:
            try:
                result = self._write(kind=kind, fmt=fmt, target=target, boutique=boutique, progress=progress)
            except ApplicationError as error:
                raise CommandError(error.message) from error
        where = "standard output" if target == "-" else str(Path(target).resolve())
        summary = (
            f"Exported {result.rows} {export_kind(kind).noun}"
            f"{f' of boutique {boutique.code}' if boutique else ''} to {where} as {fmt.upper()} "
            f"in {time.monotonic() - started:.1f} s."
        )
        # On standard output the file is the output: the summary goes with the progress bar.
        (self.stderr if target == "-" else self.stdout).write(summary)

    def _boutique(self, code: str | None) -> Boutique | None:
        if code is None:
            return None
        boutique = Boutique.objects.filter(code=code).first()
        if boutique is None:
            known = ", ".join(Boutique.objects.order_by("code").values_list("code", flat=True)) or "none"
            raise CommandError(f"No boutique has the code {code!r}. Codes: {known}.")
        return boutique

    def _write(self, *, kind: str, fmt: str, target: str, boutique: Boutique | None, progress: tqdm):
        if target == "-":
            return write_export(kind=kind, fmt=fmt, stream=sys.stdout.buffer, boutique=boutique,
                                on_progress=progress.update)
        path = Path(target)
        if not path.parent.is_dir():
            raise CommandError(f"The folder {path.parent} does not exist; create it or choose another file name.")
        # Written aside and renamed at the end: an interrupted export never leaves a file that looks complete.
        partial = path.with_name(f".{path.name}.part")
        try:
            with partial.open("wb") as stream:
                result = write_export(kind=kind, fmt=fmt, stream=stream, boutique=boutique,
                                      on_progress=progress.update)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return result
