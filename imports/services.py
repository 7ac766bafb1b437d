"""Imports as batches: bring a legacy file in (or preview it), explain its bad rows, and take an import back."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

import pghistory
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportKind
from imports.reader import open_source
from imports.registry import KINDS

logger = logging.getLogger(__name__)

CHECKSUM_BLOCK = 1 << 20


def _checksum(source: str | os.PathLike | BinaryIO) -> tuple[str, int]:
    """SHA-256 and size of the file, read in blocks; a caller's stream is put back where it was."""
    digest, size = hashlib.sha256(), 0
    if isinstance(source, str | os.PathLike):
        try:
            handle: IO[bytes] = open(source, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            raise ApplicationError(f"{source} does not exist.") from None
        close = True
    else:
        if not source.seekable():
            return "", 0
        handle, close = source, False
        start = source.tell()
    try:
        while block := handle.read(CHECKSUM_BLOCK):
            digest.update(block)
            size += len(block)
    finally:
        if close:
            handle.close()
        else:
            source.seek(start)  # type: ignore[union-attr]
    return digest.hexdigest(), size


def import_file(
    *,
    kind: str,
    source: str | Path | BinaryIO,
    file_name: str,
    actor: AbstractBaseUser | None = None,
    mapping: ColumnMapping | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    dry_run: bool = False,
    valid_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportBatch:
    """Import (or, with `dry_run`, preview) a legacy file of one kind as a batch, and return the batch.

    The batch is IMPORTED, PREVIEWED, REJECTED (invalid rows and not `valid_only`: nothing written but the batch
    and its row errors) or FAILED (the file cannot be read: `failure` says why, and the ApplicationError is raised).
    """
    if kind not in ImportKind.values:
        kinds = ", ".join(ImportKind.values)
        raise ApplicationError.for_field("kind", f"{kind!r} is not a kind of import; use {kinds}.")
    if kind not in KINDS:
        raise ApplicationError.for_field("kind", f"Importing {kind} is not yet supported.")
    fields, pipeline = KINDS[kind].fields, KINDS[kind].run
    mapping = mapping or ColumnMapping()
    checksum, size = _checksum(source)
    batch = ImportBatch.objects.create(
        kind=kind,
        status=ImportBatch.Status.RUNNING,
        file_name=file_name[:255],
        file_size=size,
        checksum=checksum,
        mapping=mapping.to_dict(),
        is_dry_run=dry_run,
        valid_rows_only=valid_only,
        created_by=actor,
        started_at=timezone.now(),
    )
    try:
        table = open_source(source, fields=fields, mapping=mapping, encoding=encoding, delimiter=delimiter)
        batch.encoding, batch.delimiter = table.encoding, table.delimiter
        batch.save(update_fields=["encoding", "delimiter", "updated_at"])
        pipeline(batch=batch, table=table, dry_run=dry_run, valid_only=valid_only, progress=progress)
    except ApplicationError as error:
        _fail(batch, error.message)
        raise
    except Exception as error:
        _fail(batch, f"The import stopped on an unexpected error: {type(error).__name__}.")
        raise
    return batch


def _fail(batch: ImportBatch, message: str) -> None:
    batch.status = ImportBatch.Status.FAILED
    batch.failure = message
    batch.finished_at = timezone.now()
    batch.processed_rows = 0
    batch.save(update_fields=["status", "failure", "finished_at", "processed_rows", "updated_at"])
    logger.info("imports.failed batch_id=%s", batch.pk)


@transaction.atomic
def import_rollback(*, batch: ImportBatch, actor: AbstractBaseUser | None = None) -> None:
    """Take an import back in one transaction: what it created removed, what it changed restored (each kind's
    rollback in imports.registry). Refused when something recorded since depends on a record it created."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.IMPORTED:
        raise ApplicationError(
            f"Only an imported batch can be rolled back; this one is {batch.get_status_display().lower()}.",
            extra={"status": batch.status},
        )
    with pghistory.context(source="import_rollback", import_batch=batch.pk):
        KINDS[batch.kind].rollback(batch)
    batch.status = ImportBatch.Status.ROLLED_BACK
    batch.rolled_back_at = timezone.now()
    batch.rolled_back_by = actor
    batch.save(update_fields=["status", "rolled_back_at", "rolled_back_by", "updated_at"])
    logger.info("imports.rolled_back batch_id=%s", batch.pk)


def import_errors_csv(*, batch: ImportBatch, stream: IO[str]) -> int:
    """Write the batch's row errors as CSV (line, column, message, then the row's own cells); returns the count."""
    writer = csv.writer(stream)
    headers: list[str] | None = (batch.preview or {}).get("headers")
    if headers is not None:
        writer.writerow(["line", "column", "message", *headers])
    count = 0
    for error in batch.row_errors.order_by("line", "pk").iterator(chunk_size=2_000):
        if headers is None:
            headers = list(error.row)
            writer.writerow(["line", "column", "message", *headers])
        writer.writerow([error.line, error.column, error.message, *(error.row.get(header, "") for header in headers)])
        count += 1
    if headers is None:
        writer.writerow(["line", "column", "message"])
    return count
