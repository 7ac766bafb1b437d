"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered per app.

Each installation has its own queues (config/queues.py). Every task sent is stamped with the database it was sent
for, and a worker refuses (drops, with a warning, without running) a task stamped for another database or not
stamped at all: a worker must never run another installation's task against its own data.
"""

import logging
import os

from celery import Celery, Task
from celery.exceptions import Reject
from celery.signals import before_task_publish

from config.queues import DATABASE_HEADER, database_identity

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

logger = logging.getLogger("config.celery")


def installation_identity() -> str:
    """The identity of the database this process works on, read at each use: the tests rename it at start."""
    from django.conf import settings

    return database_identity(settings.DATABASES["default"])


class InstallationTask(Task):
    """The base of every task: runs only a message sent for this installation's database."""

    def __call__(self, *args, **kwargs):
        request = self.request
        if not request.called_directly and not request.is_eager:
            sent_for = getattr(request, DATABASE_HEADER, None)
            ours = installation_identity()
            if sent_for != ours:
                logger.warning("celery.task_refused task=%s task_id=%s sent_for=%s database=%s",
                               self.name, request.id, sent_for, ours)
                raise Reject(f"sent for the database {sent_for!r}, not {ours!r}", requeue=False)
        return super().__call__(*args, **kwargs)


app = Celery("atelier", task_cls=InstallationTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@before_task_publish.connect
def _stamp_installation(headers: dict, **kwargs) -> None:
    # setdefault: a retry re-published by a worker keeps the stamp it came with (its own database anyway).
    headers.setdefault(DATABASE_HEADER, installation_identity())
