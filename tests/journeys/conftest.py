"""Fixtures of the follow-up tests: a fake SMS provider over real HTTP, a Paris boutique, and real workers on
Redis whose clocks the test moves."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.factories import BoutiqueFactory
from tests.journeys import fake_sms

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def sms_provider(settings):
    """The fake provider, with the settings pointing the twilio adapter at it."""
    provider = fake_sms.FakeSmsProvider()
    server = fake_sms.start(provider)
    settings.SMS_BACKEND = "twilio"
    settings.SMS_API_URL = provider.url
    settings.SMS_ACCOUNT_SID = fake_sms.ACCOUNT_SID
    settings.SMS_AUTH_TOKEN = fake_sms.AUTH_TOKEN
    settings.SMS_FROM = "+33100000000"
    settings.SMS_TIMEOUT_SECONDS = 5
    yield provider
    provider.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def lifecycle():
    """The default Client lifecycle journey the migrations ship (its six stages and rules)."""
    from journeys.models import Journey

    return Journey.objects.get(slug="client-lifecycle")


@pytest.fixture
def paris_boutique():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", timezone="Europe/Paris")


class ClockedWorkers:
    """Real Celery worker processes on the real Redis, consuming one private queue, whose tasks run at the moment
    set with `set_clock` (tests/journeys/clocked_worker.py). The journeys and touchpoints tasks are routed to the
    queue, so the tasks the code queues itself (attribution after an order) reach these workers too."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.queue = f"test-{uuid.uuid4().hex[:12]}"
        self.clock = tmp_path / "clock"
        self.clock.write_text("")
        self.env = {**env, "ATELIER_TEST_CLOCK": str(self.clock)}
        self.processes: list[subprocess.Popen] = []

    def set_clock(self, moment: dt.datetime) -> None:
        self.clock.write_text(moment.isoformat())

    def start(self) -> subprocess.Popen:
        from config.celery import app

        name = f"{self.queue}-{len(self.processes)}"
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.journeys.clocked_worker", "-A", "config", "worker", "--pool=solo",
             "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", self.queue,
             "--loglevel=WARNING", "-n", f"{name}@%h"],
            cwd=PROJECT_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.processes.append(worker)
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=0.5):
            if worker.poll() is not None:
                raise RuntimeError(f"The Celery worker exited: {worker.stdout.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("The Celery worker did not answer within 60 s.")
        return worker

    def kill(self, worker: subprocess.Popen) -> None:
        """SIGKILL: no shutdown, no ack, no last word, as when a machine loses power."""
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=20)

    def stop_all(self) -> None:
        for worker in self.processes:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def _worker_database_url() -> str:
    database = django_settings.DATABASES["default"]
    user, host, port = database["USER"] or "postgres", database["HOST"], database["PORT"] or "5432"
    if host and not host.startswith("/"):
        return f"postgres://{user}@{host}:{port}/{database['NAME']}"
    return f"postgres://{user}@/{database['NAME']}?host={host}&port={port}"


@pytest.fixture
def clocked_workers(django_db_serialized_rollback, transactional_db, tmp_path, sms_provider):
    """Workers with moved clocks, sending email to files in `clocked_workers.mail_dir` and SMS to the fake
    provider. Start them with `.start()`; they are stopped at the end."""
    from config.celery import app

    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "SECRET_KEY": "test-worker-secret-key-long-enough-0123456789-abcdefghijklmnop",
        "DATABASE_URL": _worker_database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": django_settings.CELERY_RESULT_BACKEND,
        "CONN_MAX_AGE": "0",
        # As in the test settings: no holdout unless a test asks for one, so which client is held out of a
        # follow-up does not depend on the database ids of the run.
        "FOLLOWUP_HOLDOUT_PERCENT": "0",
        "EMAIL_URL": f"filemail:///{mail_dir}",
        "SMS_BACKEND": "twilio",
        "SMS_API_URL": sms_provider.url,
        "SMS_ACCOUNT_SID": fake_sms.ACCOUNT_SID,
        "SMS_AUTH_TOKEN": fake_sms.AUTH_TOKEN,
        "SMS_FROM": "+33100000000",
        "FOLLOWUP_SENDING_LEASE_SECONDS": "300",
    }
    workers = ClockedWorkers(tmp_path, env)
    workers.mail_dir = mail_dir
    previous_routes = app.conf.task_routes
    app.conf.task_always_eager = False
    app.conf.task_routes = {f"{app_name}.tasks.*": {"queue": workers.queue} for app_name in ("journeys", "touchpoints")}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # the router keeps the routes it was built with
    try:
        yield workers
    finally:
        sms_provider.release.set()
        workers.stop_all()
        app.conf.task_always_eager = True
        app.conf.task_routes = previous_routes
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)
