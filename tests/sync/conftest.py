"""Fixtures of the sync tests: fake POS and CRM servers on 127.0.0.1, and connector settings pointing at them."""

from __future__ import annotations

import pytest

from sync.models import ConnectorSetting, SyncRun
from sync.services import connector_setting_save, sync_run_execute, sync_start
from tests.factories import BoutiqueFactory
from tests.sync.fakes import FakeCrm, FakePos

# Quick retries and time-outs: the tests script failures, and must not wait for production's patience.
FAST = {"retry_base_seconds": 0.01, "retry_cap_seconds": 0.05, "timeout_seconds": 1, "max_attempts": 3}


@pytest.fixture
def fake_pos():
    server = FakePos().start()
    yield server
    server.stop()


@pytest.fixture
def fake_crm():
    server = FakeCrm().start()
    yield server
    server.stop()


@pytest.fixture
def boutique(db):
    return BoutiqueFactory(code="PAR-FSH", name="Paris Faubourg", country="FR", currency="EUR")


@pytest.fixture
def pos_setting(db, fake_pos, boutique, monkeypatch):
    monkeypatch.setenv("TEST_POS_TOKEN", "pos-token")
    setting = connector_setting_save(setting=ConnectorSetting(
        name="Square Paris", kind="square_pos", endpoint=fake_pos.url, secret_variable="TEST_POS_TOKEN",
        options={**FAST, "page_size": 3},
    ))
    setting.boutiques.add(boutique)
    return setting


@pytest.fixture
def crm_setting(db, fake_crm, monkeypatch):
    monkeypatch.setenv("TEST_CRM_TOKEN", "crm-token")
    return connector_setting_save(setting=ConnectorSetting(
        name="House CRM", kind="house_crm", endpoint=fake_crm.url, secret_variable="TEST_CRM_TOKEN",
        options={**FAST, "page_size": 2},
    ))


def run_sync(setting: ConnectorSetting, boutique=None) -> SyncRun:
    """Start a run and work on it in this process, as the worker's task does; the run as it ended."""
    run, started = sync_start(setting=setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)
    assert started
    sync_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.fixture
def sync_workers(django_db_serialized_rollback, transactional_db, settings):
    """Start, kill and restart real workers on the real Redis broker; sync tasks go to their private queue."""
    from config.celery import app
    from tests.conftest import purge_queue
    from tests.sync.workers import Workers

    workers = Workers()
    settings.SYNC_TASK_QUEUE = workers.queue
    app.conf.task_always_eager = False
    try:
        yield workers
    finally:
        app.conf.task_always_eager = True
        workers.stop_all()
        # The journey tasks the synced orders queued on the default queue (no worker here consumes it), and what is
        # left on the sync queue, are not the next test's.
        purge_queue(app.conf.task_default_queue)
        purge_queue(workers.queue)


def wait_for_run(run: SyncRun, *, timeout: float = 120) -> SyncRun:
    """The run once it has ended (succeeded or failed), polling the database the worker writes to."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status not in SyncRun.ACTIVE:
            return run
        time.sleep(0.2)
    raise AssertionError(f"The run is still {run.status} after {timeout} s: {run.pages} pages written.")
