"""Celery tasks of imports: the preview or import of a stored batch too large for the admin's request, and the
nightly purge of stored uploads."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings

from core.errors import ApplicationError
from imports.models import ImportBatch
from imports.services import import_run, import_uploads_purge

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def import_run_task(batch_id: int) -> str:
    """Preview or import a QUEUED batch (the batch says which) with its progress reported; returns its status.

    Idempotent: import_run claims the batch, so a redelivered task finds it no longer QUEUED and does nothing.
    Never retried: a file that cannot be read stays unreadable; the batch is left FAILED with the reason.
    """
    batch = ImportBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        logger.info("imports.run_task_skipped batch_id=%s reason=missing", batch_id)
        return "missing"
    try:
        batch = import_run(batch=batch, reports_progress=True)
    except ApplicationError:
        batch.refresh_from_db(fields=["status"])
    return batch.status


@shared_task
def import_uploads_purge_task() -> int:
    """Nightly: delete the stored files of batches finished more than IMPORT_UPLOADS_KEEP_DAYS ago."""
    return import_uploads_purge(older_than=dt.timedelta(days=settings.IMPORT_UPLOADS_KEEP_DAYS))
