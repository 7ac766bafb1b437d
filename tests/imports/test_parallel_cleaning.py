"""Large files are cleaned by worker processes while the main process writes: the outcome is exactly the sequential
one (counts, preview, row errors, the clients written), and a worker that dies stops the import cleanly."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from bench.generator import generate
from bench.legacy_files import write_customer_file
from customers.models import ConsentEvent, Customer, CustomerIdentity
from imports.mapping import ColumnMapping
from imports.models import ImportBatch
from imports.pipeline import parallel
from imports.pipeline.run import _CustomerRun
from imports.services import import_file, import_rollback
from tests.imports.test_customer_import import LEGACY, LEGACY_MAPPING, house  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_chunks(monkeypatch):
    # Small chunks and no size threshold: the fixture file spans several chunks and both workers.
    monkeypatch.setattr("imports.pipeline.CHUNK_SIZE", 150)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)


def outcome(batch: ImportBatch) -> dict[str, object]:
    return {
        "status": batch.status,
        "counts": batch.counts,
        "preview": batch.preview,
        "errors": list(batch.row_errors.values_list("line", "column", "message")),
        "clients": sorted(
            Customer.objects.values_list("email", "phone", "first_name", "last_name", "birth_date", "city",
                                         "home_boutique__code", "advisor_notes", "consent")
        ),
        "identities": sorted(CustomerIdentity.objects.values_list("system", "external_id", "customer__email")),
        "consent": sorted(ConsentEvent.objects.values_list("customer__email", "channel", "is_granted", "occurred_at")),
    }


@pytest.fixture
def messy_file(tmp_path):
    """A generated legacy file with every kind of mess (duplicates by identity, email and phone, broken rows,
    untidy values) over the demo house its codes and emails refer to."""
    generate(customers=0, seed=7, password="test-only-password-2026")
    path = tmp_path / "clients.csv"
    stats = write_customer_file(path, rows=2_000, seed=7)
    assert sum(stats.duplicates.values())
    assert sum(stats.broken.values())
    return path


def run(settings, path, workers: int, **options) -> ImportBatch:
    settings.IMPORT_WORKERS = workers
    return import_file(kind="customers", source=path, file_name=path.name, valid_only=True, **options)


def test_two_workers_give_exactly_the_sequential_outcome(messy_file, small_chunks, settings, caplog):
    with caplog.at_level(logging.INFO, logger="imports.pipeline.parallel"):
        in_parallel = outcome(run(settings, messy_file, 2))
    assert "imports.parallel workers=2" in caplog.text
    import_rollback(batch=ImportBatch.objects.get())
    assert Customer.objects.count() == 0

    sequential = outcome(run(settings, messy_file, 0))

    assert in_parallel == sequential
    assert sequential["counts"]["invalid"]
    assert sequential["counts"]["updated"]
    assert len(sequential["clients"]) == sequential["counts"]["new"]


def test_an_upload_stream_is_cleaned_in_the_main_process(house, small_chunks, settings, caplog):  # noqa: F811
    settings.IMPORT_WORKERS = 2
    with caplog.at_level(logging.INFO, logger="imports.pipeline.parallel"), open(LEGACY, "rb") as stream:
        batch = import_file(kind="customers", source=stream, file_name=LEGACY.name,
                            mapping=ColumnMapping.from_file(LEGACY_MAPPING), dry_run=True)

    assert batch.counts["new"]
    assert "imports.parallel" not in caplog.text


def test_a_worker_that_dies_fails_the_import_and_writes_nothing(house, small_chunks, settings, monkeypatch):  # noqa: F811
    clean = _CustomerRun.prepare

    def dies_on_the_second_chunk(self, rows):
        if rows[0].line > 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return clean(self, rows)

    monkeypatch.setattr(_CustomerRun, "prepare", dies_on_the_second_chunk)
    monkeypatch.setattr("imports.pipeline.CHUNK_SIZE", 3)
    settings.IMPORT_WORKERS = 1
    with pytest.raises(RuntimeError, match="stopped \\(exit code -9\\)"):
        import_file(kind="customers", source=LEGACY, file_name=LEGACY.name,
                    mapping=ColumnMapping.from_file(LEGACY_MAPPING))

    assert Customer.objects.count() == 0
    assert ImportBatch.objects.get().status == ImportBatch.Status.FAILED
