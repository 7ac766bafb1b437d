"""Celery tasks of webhooks: the nightly purge of the delivery log."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings

from webhooks.services import webhook_deliveries_purge


@shared_task
def webhook_deliveries_purge_task() -> int:
    """Nightly: delete deliveries received more than WEBHOOK_DELIVERIES_KEEP_DAYS ago (see the service for what
    stays); idempotent, so a run more is harmless."""
    return webhook_deliveries_purge(older_than=dt.timedelta(days=settings.WEBHOOK_DELIVERIES_KEEP_DAYS))
