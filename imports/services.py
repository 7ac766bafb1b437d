"""Imports as batches: bring a legacy file in (or preview it), explain its bad rows, and take an import back."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO

import pghistory
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services.consent import consent_refresh_many
from imports.kinds_fields import CUSTOMER_FIELDS
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportChange, ImportKind
from imports.pipeline import run_customer_import
from imports.reader import open_source

logger = logging.getLogger(__name__)

# The kinds that import today: their fields (what a mapping may map onto) and their pipeline.
PIPELINES: dict[str, tuple[frozenset[str], Callable[..., None]]] = {
    ImportKind.CUSTOMERS: (CUSTOMER_FIELDS, run_customer_import),
}
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
    if kind not in PIPELINES:
        raise ApplicationError.for_field("kind", f"Importing {kind} is not yet supported.")
    fields, pipeline = PIPELINES[kind]
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


def _restored(name: str, value: Any) -> Any:
    if name == "birth_date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


@transaction.atomic
def import_rollback(*, batch: ImportBatch, actor: AbstractBaseUser | None = None) -> None:
    """Take an import back: remove the clients, identities and consent events it created, put back the fields it
    changed, and recompute the consent of the clients it touched. Refused when something recorded since depends on
    a client it created (an order, an interaction …)."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.IMPORTED:
        raise ApplicationError(
            f"Only an imported batch can be rolled back; this one is {batch.get_status_display().lower()}.",
            extra={"status": batch.status},
        )
    types = {model: ContentType.objects.get_for_model(model) for model in (Customer, CustomerIdentity, ConsentEvent)}

    def created(model: type) -> Any:
        return batch.changes.filter(content_type=types[model], action=ImportChange.Action.CREATED).values("object_id")

    with pghistory.context(source="import_rollback", import_batch=batch.pk):
        touched = set(
            ConsentEvent.objects.filter(pk__in=created(ConsentEvent)).values_list("customer_id", flat=True)
        )
        ConsentEvent.objects.filter(pk__in=created(ConsentEvent)).delete()
        CustomerIdentity.objects.filter(pk__in=created(CustomerIdentity)).delete()
        # Latest change first: a client changed by two chunks gets the older values last.
        updates = batch.changes.filter(content_type=types[Customer], action=ImportChange.Action.UPDATED).order_by("-pk")
        try:
            for change in updates.iterator(chunk_size=2_000):
                values = {name: _restored(name, value) for name, value in (change.before or {}).items()}
                if values and Customer.objects.filter(pk=change.object_id).update(**values, updated_at=timezone.now()):
                    touched.add(change.object_id)
        except IntegrityError:
            raise ApplicationError(
                "A client's former email address is now used by another client, so the import cannot be rolled "
                "back; merge or correct the clients first."
            ) from None
        created_clients = Customer.objects.filter(pk__in=created(Customer))
        try:
            removed, _by_model = created_clients.delete()
        except (ProtectedError, RestrictedError) as error:
            blocking = {type(obj)._meta.verbose_name_plural for obj in list(error.args[1])[:50]}
            raise ApplicationError(
                "Records added since this import depend on clients it created "
                f"({', '.join(sorted(str(name) for name in blocking))}); the import cannot be rolled back.",
                extra={"blocking": sorted(str(name) for name in blocking)},
            ) from None
        consent_refresh_many(customer_ids=sorted(touched))
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
