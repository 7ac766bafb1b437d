"""Imports as batches: bring a legacy file in (or preview it), explain its bad rows, and take an import back."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import pghistory
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, connections, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from core.errors import ApplicationError
from core.spreadsheets import csv_cell
from imports.mapping import ColumnMapping
from imports.models import FINISHED_STATUSES, ImportBatch, ImportKind, ImportProgress
from imports.reader import Deadline, open_source
from imports.registry import KINDS

logger = logging.getLogger(__name__)

CHECKSUM_BLOCK = 1 << 20
# The class of PostgreSQL advisory locks that mark a batch as being run (the batch's id is the second key).
RUN_LOCK_CLASS = 0x1A7E


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
    runs_automation: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportBatch:
    """Import (or, with `dry_run`, preview) a legacy file of one kind as a batch, and return the batch.

    Journey rules do not react to what an import brings unless `runs_automation`: importing two years of history
    must not send two years of messages. Opted in, the interactions and orders' purchases it creates go through the
    rules like any other (after each chunk commits).

    The batch is IMPORTED, PREVIEWED, REJECTED (invalid rows and not `valid_only`: nothing written but the batch
    and its row errors) or FAILED (the file cannot be read: `failure` says why, and the ApplicationError is raised).
    """
    _check_kind(kind)
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
        runs_automation=runs_automation,
        created_by=actor,
        started_at=timezone.now(),
    )
    return _run(batch, source=source, mapping=mapping, encoding=encoding, delimiter=delimiter, progress=progress)


def _check_kind(kind: str) -> None:
    if kind not in ImportKind.values:
        kinds = ", ".join(ImportKind.values)
        raise ApplicationError.for_field("kind", f"{kind!r} is not a kind of import; use {kinds}.")


def _run(
    batch: ImportBatch,
    *,
    source: str | Path | BinaryIO,
    mapping: ColumnMapping,
    encoding: str | None,
    delimiter: str | None,
    progress: Callable[[int], None] | None,
    deadline: Deadline | None = None,
) -> ImportBatch:
    """Read and import (or preview) a RUNNING batch's file with its kind's pipeline: import_file and import_run.

    With a `deadline`, reading stops once it has passed: the batch is FAILED with the reason, nothing written (the
    pipeline's one transaction is rolled back).
    """
    try:
        table = open_source(
            source, fields=KINDS[batch.kind].fields, mapping=mapping, encoding=encoding, delimiter=delimiter,
            deadline=deadline,
        )
        batch.encoding, batch.delimiter = table.encoding, table.delimiter
        batch.save(update_fields=["encoding", "delimiter", "updated_at"])
        KINDS[batch.kind].run(
            batch=batch, table=table, dry_run=batch.is_dry_run, valid_only=batch.valid_rows_only, progress=progress
        )
    except ApplicationError as error:
        _fail(batch, error.message)
        raise
    except Exception as error:
        _fail(batch, f"The import stopped on an unexpected error: {type(error).__name__}.")
        raise
    return batch


# --- Imports of stored uploads (the admin): a batch queued with its file, run in the request or by a worker --------


@dataclass(frozen=True)
class StoredUpload:
    """An uploaded file kept in storage (MEDIA_ROOT) for its preview and its import: where, SHA-256 and size."""

    name: str
    checksum: str
    size: int


def import_upload_store(*, upload: IO[bytes], file_name: str) -> StoredUpload:
    """Keep an uploaded file in storage, under a name of its own, until it is previewed and imported."""
    checksum, size = _checksum(upload)
    safe_name = get_valid_filename(os.path.basename(file_name))[-100:] or "upload"
    name = default_storage.save(f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}/{safe_name}", File(upload))
    logger.info("imports.upload_stored size=%s", size)
    return StoredUpload(name=name, checksum=checksum, size=size)


def import_upload_discard(*, stored: StoredUpload) -> None:
    """Remove a stored upload that no batch uses (one that cannot be read, so is never previewed)."""
    if not ImportBatch.objects.filter(stored_file=stored.name).exists():
        default_storage.delete(stored.name)


def import_uploads_purge(*, older_than: dt.timedelta) -> int:
    """Delete the stored files of batches finished longer ago than `older_than` (their records stay, checksum and
    all); returns how many files went. A file still used by a batch that is not finished, or finished recently (a
    preview may yet be confirmed), is kept."""
    limit = timezone.now() - older_than
    finished = ImportBatch.objects.exclude(stored_file="").filter(
        status__in=FINISHED_STATUSES, finished_at__lt=limit
    )
    still_used = ImportBatch.objects.exclude(stored_file="").exclude(
        status__in=FINISHED_STATUSES, finished_at__lt=limit
    )
    names = set(finished.values_list("stored_file", flat=True)) - set(still_used.values_list("stored_file", flat=True))
    for name in sorted(names):
        default_storage.delete(name)
        # One file can be a preview's and the import confirmed from it: both forget it.
        ImportBatch.objects.filter(stored_file=name).update(stored_file="", updated_at=timezone.now())
    if names:
        logger.info("imports.uploads_purged count=%s", len(names))
    return len(names)


def import_start(
    *,
    kind: str,
    stored: StoredUpload,
    file_name: str,
    actor: AbstractBaseUser | None = None,
    mapping: ColumnMapping | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    dry_run: bool = False,
    valid_only: bool = False,
) -> ImportBatch:
    """Record a QUEUED batch for a stored file and start it: in this process when the file is at most
    IMPORT_INLINE_MAX_BYTES (the batch is then finished on return), else as a Celery task once committed.

    An unreadable file raises the ApplicationError with the batch left FAILED, as import_file does.
    """
    batch = _queue(
        kind=kind, stored=stored, file_name=file_name, actor=actor, mapping=mapping or ColumnMapping(),
        encoding=encoding, delimiter=delimiter, dry_run=dry_run, valid_only=valid_only,
    )
    return _dispatch(batch)


def import_confirm(
    *, preview: ImportBatch, actor: AbstractBaseUser | None = None, valid_only: bool = False,
    runs_automation: bool = False,
) -> ImportBatch:
    """Import the file a dry run previewed, with the same mapping, as a new batch started like import_start's
    (journey rules react to it only with `runs_automation`: see import_file).

    Refused unless `preview` is a finished dry run of a stored file, and while the same file is already being
    imported; the import itself refuses a stored file whose checksum is no longer the previewed one.
    """
    with transaction.atomic():
        # Two confirmations of one preview (a double click) queue one import: the second waits here, then sees it.
        preview = ImportBatch.objects.select_for_update().get(pk=preview.pk)
        if not (preview.is_dry_run and preview.status == ImportBatch.Status.PREVIEWED and preview.stored_file):
            raise ApplicationError(
                "Only a finished preview of an uploaded file can be confirmed.", extra={"status": preview.status}
            )
        running = (
            ImportBatch.objects.filter(
                kind=preview.kind, checksum=preview.checksum, is_dry_run=False,
                status__in=[ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING],
            )
            .values_list("pk", flat=True)
            .first()
        )
        if running is not None:
            raise ApplicationError(f"This file is already being imported (batch {running}).", extra={"batch": running})
        batch = _queue(
            kind=preview.kind,
            stored=StoredUpload(name=preview.stored_file.name, checksum=preview.checksum, size=preview.file_size),
            file_name=preview.file_name,
            actor=actor,
            mapping=ColumnMapping.from_dict(preview.mapping),
            encoding=preview.encoding,
            delimiter=preview.delimiter,
            dry_run=False,
            valid_only=valid_only,
            runs_automation=runs_automation,
        )
    return _dispatch(batch)


def _queue(
    *, kind: str, stored: StoredUpload, file_name: str, actor: AbstractBaseUser | None, mapping: ColumnMapping,
    encoding: str | None, delimiter: str | None, dry_run: bool, valid_only: bool, runs_automation: bool = False,
) -> ImportBatch:
    _check_kind(kind)
    mapping.validate_for(KINDS[kind].fields)
    return ImportBatch.objects.create(
        kind=kind,
        status=ImportBatch.Status.QUEUED,
        file_name=file_name[:255],
        file_size=stored.size,
        checksum=stored.checksum,
        stored_file=stored.name,
        encoding=encoding or "",
        delimiter=delimiter or "",
        mapping=mapping.to_dict(),
        is_dry_run=dry_run,
        valid_rows_only=valid_only,
        runs_automation=runs_automation,
        created_by=actor,
    )


def _dispatch(batch: ImportBatch) -> ImportBatch:
    if batch.file_size > settings.IMPORT_INLINE_MAX_BYTES:
        from imports.tasks import import_run_task  # here: the tasks module imports this one

        # With no broker (config.probes), the task runs eagerly here, after the commit, before this returns.
        batch_id = batch.pk
        transaction.on_commit(lambda: import_run_task.delay(batch_id))
        logger.info("imports.queued batch_id=%s", batch.pk)
        return batch
    # In the request: bounded in time, whatever the file holds (a worker's run is not).
    return import_run(batch=batch, deadline=Deadline.inline())


def import_run(
    *, batch: ImportBatch, progress: Callable[[int], None] | None = None, reports_progress: bool = False,
    deadline: Deadline | None = None,
) -> ImportBatch:
    """Run a QUEUED batch from its stored file, as import_file runs a file, and return it finished.

    The batch is claimed under an advisory lock held while it runs, so a task delivered twice runs it once, and a
    batch left RUNNING by a worker that died (the task is delivered again: acks late) runs again from the start; a
    batch running elsewhere, or neither QUEUED nor RUNNING, is returned as it is. A stored file whose checksum is
    not the batch's is refused (FAILED). With `reports_progress` (a worker), the rows read so far are written where
    the admin can see them meanwhile (ImportProgress). With a `deadline` (a run in a web request), reading stops once
    it has passed, and the batch is FAILED with the reason.
    """
    with _run_lock(batch.pk) as held:
        if not held:
            batch.refresh_from_db()
            logger.info("imports.run_skipped batch_id=%s reason=running_elsewhere", batch.pk)
            return batch
        now = timezone.now()
        # QUEUED, or RUNNING left by a run whose process died: that run held the lock until its connection closed,
        # and its transaction went with it, so nothing of it remains and the batch starts again.
        claimed = ImportBatch.objects.filter(
            pk=batch.pk, status__in=[ImportBatch.Status.QUEUED, ImportBatch.Status.RUNNING]
        ).update(status=ImportBatch.Status.RUNNING, started_at=now, updated_at=now, processed_rows=0)
        batch.refresh_from_db()
        if not claimed:
            logger.info("imports.run_skipped batch_id=%s status=%s", batch.pk, batch.status)
            return batch
        return _run_stored(batch, progress=progress, reports_progress=reports_progress, deadline=deadline)


@contextlib.contextmanager
def _run_lock(batch_id: int) -> Iterator[bool]:
    """A session-level advisory lock per batch, held while it runs: whether this process may run it. A worker that
    dies releases it with its connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, batch_id])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [RUN_LOCK_CLASS, batch_id])


def _run_stored(
    batch: ImportBatch, *, progress: Callable[[int], None] | None, reports_progress: bool, deadline: Deadline | None
) -> ImportBatch:
    try:
        stream = batch.stored_file.open("rb")
    except (FileNotFoundError, ValueError):
        _fail(batch, "The uploaded file is no longer stored; upload it again.")
        raise ApplicationError(batch.failure) from None
    with stream:
        checksum, lines = _checksum_and_lines(stream)
        if checksum != batch.checksum:
            _fail(batch, "The stored file is not the one uploaded (its checksum changed); upload it again.")
            raise ApplicationError(batch.failure, extra={"checksum": checksum})
        report = _ProgressReport(batch, estimated_rows=lines, then=progress) if reports_progress else None
        try:
            return _run(
                batch,
                # A file on disk is read by path, so that a large one is cleaned on several cores (pipeline.parallel).
                source=_stored_path(batch) or stream,
                mapping=ColumnMapping.from_dict(batch.mapping),
                encoding=batch.encoding or None,
                delimiter=batch.delimiter or None,
                progress=report or progress,
                deadline=deadline,
            )
        finally:
            if report is not None:
                report.close()


def _stored_path(batch: ImportBatch) -> Path | None:
    try:
        return Path(batch.stored_file.path)
    except NotImplementedError:  # a storage without local files (object storage)
        return None


def _checksum_and_lines(stream: IO[bytes]) -> tuple[str, int | None]:
    """SHA-256 of a stored file and, for a text file, its line count less the header (about its rows)."""
    digest, newlines, first = hashlib.sha256(), 0, b""
    stream.seek(0)
    while block := stream.read(CHECKSUM_BLOCK):
        first = first or block[:4]
        digest.update(block)
        newlines += block.count(b"\n")
    stream.seek(0)
    # A workbook is a zip archive: its bytes say nothing of its rows.
    return digest.hexdigest(), None if first.startswith(b"PK\x03\x04") else max(newlines, 1) - 1


class _ProgressReport:
    """The rows a running import has read, written through their own connection (IMPORTS_PROGRESS_DATABASE).

    The pipeline keeps the whole import in one transaction, the batch row's own progress included, so nobody else
    sees it before the end; this connection commits each figure at once. It writes only ImportProgress (not the
    batch row, which the import's transaction holds locked), then is closed with the import.
    """

    def __init__(self, batch: ImportBatch, *, estimated_rows: int | None, then: Callable[[int], None] | None) -> None:
        self.database = settings.IMPORTS_PROGRESS_DATABASE
        self.batch_id = batch.pk
        self.rows = 0
        self.then = then
        ImportProgress.objects.using(self.database).update_or_create(
            batch_id=batch.pk, defaults={"processed_rows": 0, "estimated_rows": estimated_rows}
        )

    def __call__(self, rows: int) -> None:
        self.rows += rows
        ImportProgress.objects.using(self.database).filter(batch_id=self.batch_id).update(
            processed_rows=self.rows, updated_at=timezone.now()
        )
        if self.then is not None:
            self.then(rows)

    def close(self) -> None:
        connection = connections[self.database]
        # Inside an atomic block (a test's transaction) closing would break the block; it is closed with it.
        if not connection.in_atomic_block:
            connection.close()


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
    """Write the batch's row errors as CSV (line, column, message, then the row's own cells); returns the count.

    Every cell goes through csv_cell, as the exports' do: the file's headers and cells (and messages quoting them)
    come from whoever made the file, and a spreadsheet would run "=cmd|…" as a formula.
    """
    writer = csv.writer(stream)

    def write(cells: list[Any]) -> None:
        writer.writerow([csv_cell(cell) for cell in cells])

    headers: list[str] | None = (batch.preview or {}).get("headers")
    if headers is not None:
        write(["line", "column", "message", *headers])
    count = 0
    for error in batch.row_errors.order_by("line", "pk").iterator(chunk_size=2_000):
        if headers is None:
            headers = list(error.row)
            write(["line", "column", "message", *headers])
        write([error.line, error.column, error.message, *(error.row.get(header, "") for header in headers)])
        count += 1
    if headers is None:
        write(["line", "column", "message"])
    return count
