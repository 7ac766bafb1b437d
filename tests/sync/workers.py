"""Real Celery worker processes for the sync tests, which start, kill and restart them (tests/conftest.py's
celery_worker starts one for the life of a test; these tests need several, one after the other)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from django.conf import settings

from config.queues import queue_name
from tests.conftest import PROJECT_ROOT


def database_url() -> str:
    database = settings.DATABASES["default"]
    user, host, port = database["USER"] or "postgres", database["HOST"] or "127.0.0.1", database["PORT"] or "5432"
    return f"postgres://{user}@{host}:{port}/{database['NAME']}"


class Workers:
    """Workers consuming one private queue (SYNC_TASK_QUEUE), against the test database."""

    def __init__(self) -> None:
        # SYNC_TASK_QUEUE names a queue in the installation's namespace: the worker is given the test run's prefix.
        self.queue_suffix = f"sync-{uuid.uuid4().hex[:12]}"
        self.queue = queue_name(settings.CELERY_QUEUE_PREFIX, self.queue_suffix)
        self.processes: list[subprocess.Popen] = []

    def start(self, *, pool: str = "solo", visibility_timeout: int = 4) -> subprocess.Popen:
        from config.celery import app

        name = f"test-{self.queue_suffix}-{len(self.processes)}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.sync.worker_settings",
            "DEBUG": "false",
            "SECRET_KEY": "test-worker-secret-key-long-enough-0123456789-abcdefghijklmnop",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CONN_MAX_AGE": "0",
            # As in the test settings: no holdout unless a test asks for one, so which client is held out of a
            # follow-up does not depend on the database ids of the run.
            "FOLLOWUP_HOLDOUT_PERCENT": "0",
            "CELERY_QUEUE_PREFIX": settings.CELERY_QUEUE_PREFIX,
            "SYNC_TASK_QUEUE": self.queue_suffix,
            "TEST_VISIBILITY_TIMEOUT": str(visibility_timeout),
        }
        if settings.CELERY_RESULT_BACKEND:
            env["CELERY_RESULT_BACKEND"] = settings.CELERY_RESULT_BACKEND
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", self.queue, "--loglevel=WARNING",
             "-n", f"{name}@%h"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[f"{name}@{os.uname().nodename}"], timeout=0.5):
            if process.poll() is not None:
                raise RuntimeError("The Celery worker exited at start.")
            if time.monotonic() > deadline:
                raise RuntimeError("The Celery worker did not answer within 60 s.")
        return process

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool children: no warm shutdown, no message given back."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
