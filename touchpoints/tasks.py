"""Celery tasks of touchpoints: thin wrappers over services, taking ids."""

from __future__ import annotations

import logging

from celery import shared_task

from customers.models import Customer
from touchpoints.services import customer_metrics_refresh

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def customer_metrics_refresh_task(customer_id: int) -> int:
    """Recompute one client's metrics from their orders. Idempotent: running it twice changes nothing more."""
    if not Customer.objects.filter(pk=customer_id).exists():
        logger.info("touchpoints.metrics_refresh_skipped customer_id=%s reason=missing", customer_id)
        return 0
    return customer_metrics_refresh(customer_ids=[customer_id])


@shared_task(acks_late=True)
def customer_metrics_refresh_all_task() -> int:
    """Nightly: recompute every client's metrics (recency scores age with the calendar, not with orders)."""
    changed = customer_metrics_refresh()
    logger.info("touchpoints.metrics_refreshed changed=%s", changed)
    return changed
