"""Imports run by Celery: progress another connection can see while the import's transaction is open, a task
delivered twice, and the whole admin flow with a real worker on the real Redis broker."""

from __future__ import annotations

import csv

import psycopg
import pytest
from django.core.files import File
from django.db import connection

from customers.models import Advisor, Customer
from imports.models import ImportBatch
from imports.pipeline import CHUNK_SIZE
from imports.services import RUN_LOCK_CLASS, import_run, import_upload_store
from imports.tasks import import_run_task
from tests.desk.helpers import logged_in
from tests.factories import make_staff
from tests.imports.admin_flow import (
    LEGACY,
    LEGACY_MAPPING,
    batch_of,
    batch_url,
    make_house,
    map_columns,
    upload,
    wait_until_finished,
)

BOTH_CONNECTIONS = ["default", "imports_progress"]


@pytest.fixture
def media_root(settings, tmp_path, monkeypatch):
    """Uploads under the test's own folder, for this process and for a worker started after this fixture."""
    folder = tmp_path / "media"
    settings.MEDIA_ROOT = str(folder)
    monkeypatch.setenv("MEDIA_ROOT", str(folder))
    return folder


def queued_batch(path, **fields) -> ImportBatch:
    with open(path, "rb") as stream:
        stored = import_upload_store(upload=File(stream), file_name=path.name)
    return ImportBatch.objects.create(
        kind="customers", status=ImportBatch.Status.QUEUED, file_name=path.name, file_size=stored.size,
        checksum=stored.checksum, stored_file=stored.name, **fields,
    )


def outside_view(batch: ImportBatch) -> tuple[int | None, int]:
    """What a connection of its own (not Django's) reads: the progress row, and the batch row's own figure."""
    settings_dict = connection.settings_dict
    with psycopg.connect(dbname=settings_dict["NAME"], user=settings_dict["USER"] or "postgres",
                         host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None,
                         autocommit=True) as other:
        progress = other.execute("SELECT processed_rows FROM imports_importprogress WHERE batch_id = %s",
                                 [batch.pk]).fetchone()
        (processed,) = other.execute("SELECT processed_rows FROM imports_importbatch WHERE id = %s",
                                     [batch.pk]).fetchone()
    return (progress[0] if progress else None, processed)


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=BOTH_CONNECTIONS)
def test_another_connection_sees_the_progress_advance_while_the_import_runs(media_root, tmp_path):
    rows = 2 * CHUNK_SIZE + 1_000
    path = tmp_path / "clients.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["crm_id", "last_name", "email"])
        writer.writerows([f"CRM-{n}", f"Client {n}", f"client{n}@example.com"] for n in range(rows))
    batch = queued_batch(path)
    seen: list[tuple[int | None, int]] = []

    import_run(batch=batch, reports_progress=True, progress=lambda count: seen.append(outside_view(batch)))

    # The progress row moves chunk by chunk; the batch row's own figure, inside the import's transaction, does not.
    assert seen == [(CHUNK_SIZE, 0), (2 * CHUNK_SIZE, 0), (rows, 0)]
    batch.refresh_from_db()
    assert (batch.status, batch.processed_rows, batch.total_rows) == (ImportBatch.Status.IMPORTED, rows, rows)
    assert outside_view(batch) == (rows, rows)
    assert Customer.objects.count() == rows


@pytest.mark.django_db(databases=BOTH_CONNECTIONS)
def test_a_task_delivered_twice_imports_once(media_root):
    make_house()
    from imports.mapping import ColumnMapping

    batch = queued_batch(LEGACY, mapping=ColumnMapping.from_file(LEGACY_MAPPING).to_dict())

    assert import_run_task.delay(batch.pk).get() == "imported"
    assert import_run_task.delay(batch.pk).get() == "imported"  # found no longer queued: nothing done

    assert Customer.objects.count() == 5
    assert ImportBatch.objects.get(pk=batch.pk).changes.count() == 5
    assert import_run_task.delay(987654).get() == "missing"


def other_connection() -> psycopg.Connection:
    settings_dict = connection.settings_dict
    return psycopg.connect(dbname=settings_dict["NAME"], user=settings_dict["USER"] or "postgres",
                           host=settings_dict["HOST"] or None, port=settings_dict["PORT"] or None, autocommit=True)


@pytest.mark.django_db(databases=BOTH_CONNECTIONS)
def test_a_batch_left_running_by_a_worker_that_died_runs_again_when_the_task_comes_back(media_root):
    make_house()
    from imports.mapping import ColumnMapping

    # What a worker killed mid-import leaves: the batch RUNNING, its transaction (and lock) gone with its process.
    batch = queued_batch(LEGACY, mapping=ColumnMapping.from_file(LEGACY_MAPPING).to_dict(),
                         processed_rows=5_000)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)

    assert import_run_task.delay(batch.pk).get() == "imported"

    assert Customer.objects.count() == 5
    assert ImportBatch.objects.get(pk=batch.pk).processed_rows == 6


@pytest.mark.django_db(databases=BOTH_CONNECTIONS)
def test_a_batch_another_worker_is_running_is_left_to_it(media_root):
    make_house()
    batch = queued_batch(LEGACY)
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    with other_connection() as running_worker:
        running_worker.execute("SELECT pg_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, batch.pk])

        assert import_run(batch=batch).status == ImportBatch.Status.RUNNING

    assert Customer.objects.count() == 0


@pytest.mark.django_db(databases=BOTH_CONNECTIONS)
def test_a_task_whose_file_cannot_be_read_leaves_the_batch_failed_with_the_reason(media_root, tmp_path):
    path = tmp_path / "nothing.csv"
    path.write_bytes(b"\r\n")
    batch = queued_batch(path)

    assert import_run_task.delay(batch.pk).get() == "failed"

    batch.refresh_from_db()
    assert batch.failure == "The file is empty: it has no header line naming its columns."


@pytest.fixture
def worker_queue(media_root, celery_worker):
    """The real worker (started after MEDIA_ROOT is set for it), with the import task routed to its private queue."""
    from config.celery import app

    previous = app.conf.task_routes
    app.conf.task_routes = {"imports.tasks.import_run_task": {"queue": celery_worker}}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # the router keeps the routes it was built with
    yield celery_worker
    app.conf.task_routes = previous
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)


@pytest.mark.broker
@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=BOTH_CONNECTIONS)
def test_a_large_upload_is_previewed_and_imported_by_a_real_worker(worker_queue, settings):
    settings.IMPORT_INLINE_MAX_BYTES = 100  # the 1.5 kB legacy file goes to the worker
    make_house()
    browser = logged_in(make_staff(Advisor.Role.HEAD_OFFICE))
    response = upload(browser, LEGACY, mapping=LEGACY_MAPPING)

    preview = batch_of(map_columns(browser, response["Location"]))

    assert preview.status == ImportBatch.Status.QUEUED  # the request did not run it
    status = wait_until_finished(browser, preview)
    assert (status["status"], status["counts"], status["processed_rows"]) == (
        "previewed", {"new": 5, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 0}, 6
    )
    assert Customer.objects.count() == 0
    assert 'id="import-confirm"' in browser.get(batch_url(preview)).content.decode()

    imported = batch_of(browser.post(batch_url(preview, "confirm/")))

    status = wait_until_finished(browser, imported)
    assert (status["status"], status["counts"]["new"]) == ("imported", 5)
    assert Customer.objects.count() == 5
    page = browser.get(batch_url(imported)).content.decode()
    assert 'id="import-rollback-link"' in page


def finished_batch(path, status: str, finished_at) -> ImportBatch:
    batch = queued_batch(path)
    ImportBatch.objects.filter(pk=batch.pk).update(status=status, finished_at=finished_at)
    batch.refresh_from_db()
    return batch


@pytest.mark.django_db(databases=BOTH_CONNECTIONS)
def test_stored_uploads_of_batches_finished_long_ago_are_purged_and_their_records_kept(media_root):
    import datetime as dt

    from django.core.files.storage import default_storage
    from django.utils import timezone

    from imports.services import import_uploads_purge

    long_ago = timezone.now() - dt.timedelta(days=40)
    preview = finished_batch(LEGACY, ImportBatch.Status.PREVIEWED, long_ago)
    # The import confirmed from that preview shares its file.
    imported = ImportBatch.objects.create(
        kind="customers", status=ImportBatch.Status.IMPORTED, file_name=preview.file_name, checksum=preview.checksum,
        stored_file=preview.stored_file.name, finished_at=long_ago)
    recent = finished_batch(LEGACY, ImportBatch.Status.PREVIEWED, timezone.now())
    queued_long_ago = queued_batch(LEGACY)
    ImportBatch.objects.filter(pk=queued_long_ago.pk).update(created_at=long_ago)
    names = {batch.pk: batch.stored_file.name for batch in (preview, recent, queued_long_ago)}

    assert import_uploads_purge(older_than=dt.timedelta(days=30)) == 1

    assert not default_storage.exists(names[preview.pk])
    assert default_storage.exists(names[recent.pk])
    assert default_storage.exists(names[queued_long_ago.pk])
    preview.refresh_from_db()
    imported.refresh_from_db()
    assert (preview.stored_file.name, imported.stored_file.name) == ("", "")
    assert preview.checksum == imported.checksum != ""
    assert import_uploads_purge(older_than=dt.timedelta(days=30)) == 0
