"""Serve the demo: the web server, plus a Celery worker and beat when a broker answers."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from config.probes import broker_answers


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the development server and, when a broker answers, a Celery worker and beat beside it."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-celery", action="store_true", help="Do not start a worker and beat.")

    def handle(self, *args, addrport: str, no_celery: bool, **options):
        # A shell that starts us in the background leaves SIGINT ignored, and children would inherit that; a real
        # handler here resets to the default in every child. SIGTERM stops the demo the same way as Ctrl-C.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        root = Path(settings.BASE_DIR)
        logs = root / "var" / "log"
        logs.mkdir(parents=True, exist_ok=True)
        children: list[subprocess.Popen] = []
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        if no_celery:
            self.stdout.write("Celery not started (--no-celery).")
        elif settings.CELERY_TASK_ALWAYS_EAGER or not broker_answers(settings.CELERY_BROKER_URL):
            self.stdout.write(self.style.WARNING(
                "No Celery broker answers: tasks run eagerly inside the web server and periodic tasks do not run. "
                "Start Redis on 127.0.0.1:6379 (or set CELERY_BROKER_URL) for the live automation."
            ))
        else:
            for name, arguments in (
                ("worker", ["worker", "--loglevel=INFO", "--concurrency=2"]),
                # The schedule lives in the database (django-celery-beat, CELERY_BEAT_SCHEDULER), editable in the admin.
                ("beat", ["beat", "--loglevel=INFO"]),
            ):
                log = (logs / f"{name}.log").open("ab")
                children.append(subprocess.Popen([*celery, *arguments], cwd=root, stdout=log, stderr=log))
                self.stdout.write(f"Celery {name} started on {settings.CELERY_BROKER_URL} (log: var/log/{name}.log).")
            # The demo's own queues, derived from its database (or CELERY_QUEUE_PREFIX): a benchmark or a test run on
            # the same Redis queues elsewhere, and the worker refuses any task sent for another database.
            self.stdout.write(f"Tasks go to {settings.CELERY_TASK_DEFAULT_QUEUE}.")

        # No autoreloader: its extra process would outlive a stop. SIGINT, unlike a default SIGTERM, lets each
        # child run its exit handlers, which is how the embedded PostgreSQL knows when the last user has gone.
        server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", addrport], cwd=root)
        children.append(server)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(children)

    @staticmethod
    def _stop(children: list[subprocess.Popen]) -> None:
        """Ask each child to stop with SIGINT; insist with SIGTERM, then SIGKILL, if it does not."""
        for escalation in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            running = [child for child in children if child.poll() is None]
            for child in running:
                child.send_signal(escalation)
            for child in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=15)
