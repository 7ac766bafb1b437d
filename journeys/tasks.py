"""Celery tasks of journeys: the rule engine on new interactions (queued after their commit, whatever recorded
them) and the time-based rules from beat."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from journeys.services import rules_apply_time_based, rules_apply_to_interactions

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rules_apply_to_interactions_task(interaction_ids: list[int]) -> dict[str, int]:
    """Apply the interaction rules to a batch of new interactions. Idempotent (see journeys.services.rules), so a
    redelivered or retried task acts once; retried only when the database is out of reach."""
    return rules_apply_to_interactions(interaction_ids=interaction_ids).as_dict()


@shared_task(acks_late=True)
def rules_apply_time_based_task() -> dict[str, dict[str, int]]:
    """From beat: the time-based rules over every client in their journeys. Idempotent per day."""
    outcomes = rules_apply_time_based()
    return {str(rule_id): outcome.as_dict() for rule_id, outcome in outcomes.items()}


def interactions_listener(interaction_ids: list[int]) -> None:
    """touchpoints.events listener: runs once the recording transaction has committed, and queues the rules for
    the new interactions in batches of JOURNEY_RULES_BATCH_SIZE."""
    size = settings.JOURNEY_RULES_BATCH_SIZE
    for start in range(0, len(interaction_ids), size):
        rules_apply_to_interactions_task.delay(interaction_ids[start:start + size])
