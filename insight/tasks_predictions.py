"""Foresight's periodic tasks (beat: weekly refit, daily scoring), thin wrappers over insight.services.predictions.

Kept apart from insight/tasks.py (rollups); InsightConfig.ready() imports this module so the worker registers them.
"""

from __future__ import annotations

import logging

from celery import shared_task

from insight.services.predictions import predictions_refit, predictions_score

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def predictions_refit_task() -> int:
    """Weekly: refit the model on every net purchase, keep the run, score every client. Idempotent: a second run
    the same day only adds a run whose figures equal the first's."""
    return predictions_refit().pk


@shared_task(acks_late=True)
def predictions_score_task() -> int:
    """Daily: score every client with the latest run (recency ages with the calendar, not with orders)."""
    return predictions_score()


@shared_task(acks_late=True)
def alerts_evaluate_task() -> int:
    """Daily: yesterday's watched figures; alerts written and their owners emailed. Idempotent per day."""
    from insight.services.alerts import alerts_evaluate

    return len(alerts_evaluate())
