"""Celery tasks of core: housekeeping of what every app shares."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings

from core.idempotency import idempotent_requests_purge

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def idempotent_requests_purge_task() -> int:
    """Nightly: forget Idempotency-Keys older than IDEMPOTENCY_KEEP_DAYS. Idempotent by construction."""
    deleted = idempotent_requests_purge(older_than=dt.timedelta(days=settings.IDEMPOTENCY_KEEP_DAYS))
    logger.info("core.idempotent_requests_purged deleted=%s", deleted)
    return deleted
