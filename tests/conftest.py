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


@pytest.fixture
def celery_worker(django_db_serialized_rollback, transactional_db):
    """A real Celery worker process on the real Redis broker, consuming a private queue, against the test database.

    Yields the queue name: send tasks with `.apply_async(..., queue=queue)`. The private queue keeps a demo worker
    on the same Redis from taking the test's tasks (and this worker from taking the demo's). It is also the default
    queue meanwhile, so that tasks queued by the code under test (the journey rules after an interaction is
    committed) run on this worker instead of piling up on the shared Redis. Serialized rollback
    puts back the rows the data migrations installed (touchpoint types, the lifecycle journey) after the flush.
    """
    from celery._state import _set_task_join_will_block

    from config.celery import app

    database = settings.DATABASES["default"]
    user = database["USER"] or "postgres"
    host = database["HOST"]
    port = database["PORT"] or "5432"
    url = (
        f"postgres://{user}@{host}:{port}/{database['NAME']}"
        if host and not host.startswith("/")
        else f"postgres://{user}@/{database['NAME']}?host={host}&port={port}"
    )
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "SECRET_KEY": "test-worker-secret-key-long-enough-0123456789-abcdefghijklmnop",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "CONN_MAX_AGE": "0",
        # As in the test settings: no holdout unless a test asks for one, so which client is held out of a
        # follow-up does not depend on the database ids of the run.
        "FOLLOWUP_HOLDOUT_PERCENT": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", queue, "--loglevel=WARNING",
         "-n", f"{queue}@%h"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    app.conf.task_always_eager = False
    # Eager tasks run under celery.result.denied_join_result, which saves and restores a process-wide flag: tasks
    # run eagerly from several threads at once (a test of concurrent writes, each commit queuing the journey rules)
    # can leave it set, and every result.get() of this worker's tasks would then refuse to wait.
    _set_task_join_will_block(False)
    previous_default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue  # read by the router at each send
    try:
        deadline = time.monotonic() + 60
        while True:
            if worker.poll() is not None:
                raise RuntimeError(f"The Celery worker exited: {worker.stdout.read().decode()}")
            if app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("The Celery worker did not answer within 60 s.")
        yield queue
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = previous_default_queue
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
