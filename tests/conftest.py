"""Shared fixtures. Tests run on PostgreSQL (config.settings.test) and, for broker tests, on the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from config.probes import tcp_port_answers

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    database = settings.DATABASES["default"]
    where = database["HOST"] or "local socket"
    redis = "answers" if tcp_port_answers("127.0.0.1", 6379) else "DOES NOT ANSWER: broker tests will be skipped"
    return [f"database: PostgreSQL {database['NAME']} at {where}", f"redis 127.0.0.1:6379: {redis}"]


def pytest_collection_modifyitems(config, items):
    if tcp_port_answers("127.0.0.1", 6379):
        return
    skip = pytest.mark.skip(reason="NO REDIS ON 127.0.0.1:6379: real-broker tests skipped (CI always has one)")
    broker_items = [item for item in items if "broker" in item.keywords]
    for item in broker_items:
        item.add_marker(skip)
    if broker_items:
        config.issue_config_time_warning(
            pytest.PytestWarning(f"No Redis answers: {len(broker_items)} real-broker tests are SKIPPED."), stacklevel=2
        )


@pytest.fixture(autouse=True)
def _fresh_rate_budgets():
    """Rate counters live in the test process's cache: each test starts with a full budget. Calls refused with 401
    count against the per-address rate, so anonymous calls of earlier tests (all from 127.0.0.1) must not add up."""
    from django.core.cache import cache

    cache.clear()


def database_url(database: dict) -> str:
    """A DATABASE_URL for a worker process on `database` (a DATABASES entry), identical in identity to it."""
    user = database["USER"] or "postgres"
    host = database["HOST"]
    port = database["PORT"] or "5432"
    if host and not host.startswith("/"):
        return f"postgres://{user}@{host}:{port}/{database['NAME']}"
    return f"postgres://{user}@/{database['NAME']}?host={host}&port={port}"


class Worker:
    """A real Celery worker process on the real Redis broker, consuming its installation's default queue.

    The installation is given by the database URL and, optionally, the queue prefix (CELERY_QUEUE_PREFIX); without
    one the worker derives its queues from its database, as a production worker does. Its output goes to a file,
    read by `output()`.
    """

    def __init__(self, *, name: str, database_url: str, queue_prefix: str | None, log_path: Path) -> None:
        self.name = f"{name}@{os.uname().nodename}"
        self.log_path = log_path
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEBUG": "false",
            "SECRET_KEY": "test-worker-secret-key-long-enough-0123456789-abcdefghijklmnop",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CONN_MAX_AGE": "0",
            # As in the test settings: no holdout unless a test asks for one, so which client is held out of a
            # follow-up does not depend on the database ids of the run.
            "FOLLOWUP_HOLDOUT_PERCENT": "0",
        }
        if settings.CELERY_RESULT_BACKEND:
            env["CELERY_RESULT_BACKEND"] = settings.CELERY_RESULT_BACKEND
        env.pop("CELERY_QUEUE_PREFIX", None)
        if queue_prefix:
            env["CELERY_QUEUE_PREFIX"] = queue_prefix
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
                 "-n", f"{name}@%h"],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> Worker:
        from config.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[self.name], timeout=0.5):
            if self.process.poll() is not None:
                raise RuntimeError(f"The Celery worker exited: {self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError("The Celery worker did not answer within 60 s.")
        return self

    def tasks_received(self) -> dict[str, int]:
        """How many tasks of each name the worker took from its queue (refused ones among them)."""
        from config.celery import app

        stats = app.control.inspect(destination=[self.name], timeout=5).stats() or {}
        return dict(stats[self.name]["total"])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def purge_queue(name: str) -> None:
    from config.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(name)


@pytest.fixture
def installation_worker(django_db_serialized_rollback, transactional_db, tmp_path):
    """The Worker behind `celery_worker` (its output, the tasks it ran)."""
    from celery._state import _set_task_join_will_block

    from config.celery import app

    # What earlier tests of the run left on the queue (a sync test's worker consumes only the sync queue, and the
    # journey tasks its orders queue stay behind) is not this test's: it would run on this worker.
    purge_queue(app.conf.task_default_queue)
    worker = Worker(name=f"test-{uuid.uuid4().hex[:12]}", database_url=database_url(settings.DATABASES["default"]),
                    queue_prefix=settings.CELERY_QUEUE_PREFIX, log_path=tmp_path / "celery-worker.log")
    app.conf.task_always_eager = False
    # Eager tasks run under celery.result.denied_join_result, which saves and restores a process-wide flag: tasks
    # run eagerly from several threads at once (a test of concurrent writes, each commit queuing the journey rules)
    # can leave it set, and every result.get() of this worker's tasks would then refuse to wait.
    _set_task_join_will_block(False)
    try:
        worker.wait_ready()
        yield worker
    finally:
        app.conf.task_always_eager = True
        worker.stop()
        purge_queue(app.conf.task_default_queue)


@pytest.fixture
def celery_worker(installation_worker):
    """A real Celery worker process on the real Redis broker, against the test database, in the test run's queue
    namespace (config.settings.test gives each test process its own CELERY_QUEUE_PREFIX).

    Yields the default queue's name: tasks queued by the code under test (the journey rules after an interaction is
    committed) go there by themselves; `.apply_async(..., queue=queue)` says so explicitly. What is left on the queue
    when the test ends is purged, so that the next test's worker does not get it. Serialized rollback puts back the
    rows the data migrations installed (touchpoint types, the lifecycle journey) after the flush.
    """
    from config.celery import app

    return app.conf.task_default_queue
