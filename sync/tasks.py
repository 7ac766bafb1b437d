"""Celery tasks of the sync app: thin wrappers over sync.services, taking ids."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from sync.models import ConnectorSetting, SyncRun
from sync.services import connector_schedule_remove, connector_sync, sync_run_execute, sync_runs_resume

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, bind=True, max_retries=5)
def sync_run_task(self, run_id: int) -> str:
    """Work on a sync run (sync_run_execute). Acknowledged late and rejected on worker loss: a worker killed mid-page
    has its message delivered again, and the new task resumes from the last page's checkpoint. Retried only when
    the database connection fails (the page's transaction rolled back), with backoff, at most 5 times."""
    try:
        return sync_run_execute(run_id=run_id)
    except (OperationalError, InterfaceError) as error:
        raise self.retry(exc=error, countdown=min(60, 2 ** self.request.retries)) from error


@shared_task(acks_late=True)
def connector_sync_task(connector_id: int) -> list[int]:
    """Beat's periodic sync of one connector (django-celery-beat, scheduled from its settings): a run per boutique."""
    setting = ConnectorSetting.objects.filter(pk=connector_id).first()
    if setting is None:
        # Deleted without its schedule (outside connector_setting_delete): beat is told to stop asking.
        logger.info("sync.connector_sync_skipped connector_id=%s reason=missing", connector_id)
        connector_schedule_remove(connector_id=connector_id)
        return []
    return [run.pk for run in connector_sync(setting=setting, trigger=SyncRun.Trigger.SCHEDULE)]


@shared_task(acks_late=True)
def sync_runs_resume_task() -> int:
    """Every few minutes: queue again the runs whose task was lost (sync_runs_resume)."""
    return sync_runs_resume()
