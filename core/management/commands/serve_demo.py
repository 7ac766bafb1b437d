"""Serve the demo: the web server, plus a Celery worker and beat when a broker answers."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from config.probes import broker_answers


class Command(BaseCommand):
    help = "Run the development server and, when a broker answers, a Celery worker and beat beside it."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-celery", action="store_true", help="Do not start a worker and beat.")

    def handle(self, *args, addrport: str, no_celery: bool, **options):
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
                ("beat", ["beat", "--loglevel=INFO", f"--schedule={root / 'var' / 'celerybeat-schedule'}"]),
            ):
                log = (logs / f"{name}.log").open("ab")
                children.append(subprocess.Popen([*celery, *arguments], cwd=root, stdout=log, stderr=log))
                self.stdout.write(f"Celery {name} started on {settings.CELERY_BROKER_URL} (log: var/log/{name}.log).")

        # No autoreloader: its extra process would outlive a stop. SIGINT, unlike a default SIGTERM, lets each
        # child run its exit handlers, which is how the embedded PostgreSQL knows when the last user has gone.
        server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", addrport], cwd=root)
        children.append(server)

        def stop(*_):
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)

        signal.signal(signal.SIGTERM, stop)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
