"""Celery tasks of insight: rewriting a batch of clients' rollups after the commits that changed them, and the
nightly reconciliation. Both are idempotent: they recompute from what is committed."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from insight.services import rollups_reconcile, rollups_refresh_clients


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rollups_refresh_clients_task(customer_ids: list[int]) -> dict[str, int]:
    """Rewrite these clients' rollups. Retried only when the database is out of reach."""
    return rollups_refresh_clients(customer_ids=customer_ids)


@shared_task(acks_late=True)
def rollups_reconcile_task() -> dict[str, int]:
    """From beat: the rollups of every client touched in the last INSIGHT_RECONCILE_DAYS."""
    return rollups_reconcile()


def clients_changed_listener(customer_ids: list[int]) -> None:
    """core.client_changes listener (registered in InsightConfig.ready): runs after the commit and queues the
    refresh in batches of INSIGHT_REFRESH_BATCH_SIZE."""
    size = settings.INSIGHT_REFRESH_BATCH_SIZE
    for start in range(0, len(customer_ids), size):
        rollups_refresh_clients_task.delay(customer_ids[start:start + size])
