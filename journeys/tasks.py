"""Celery tasks of journeys, thin wrappers over the services taking ids: the rule engine on new interactions (queued
after their commit, whatever recorded them), the time-based rules from beat, sending due follow-ups, and what new
touchpoints say about earlier follow-ups (attribution, opens)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from journeys.services import rules_apply_time_based, rules_apply_to_interactions
from journeys.services.attribution import opens_record_for_interactions, orders_attribute_for_interactions
from journeys.services.dispatch import followups_dispatch_due

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


@shared_task(acks_late=True)
def followups_dispatch_task() -> dict[str, int]:
    """Every minute (beat): send the due email and SMS follow-ups. Not retried by Celery: each follow-up's own
    retries are rows with a due time, and a run that dies is recovered by the next (journeys.services.dispatch)."""
    counts = followups_dispatch_due()
    if counts:
        logger.info("journeys.followups_dispatched %s", " ".join(f"{key}={value}" for key, value in counts.items()))
    return counts


@shared_task(acks_late=True)
def followups_attribute_task(interaction_ids: list[int]) -> int:
    """What newly recorded touchpoints say about follow-ups: purchases attributed to the follow-ups before them,
    email opens noted on the emails they name. Idempotent."""
    return orders_attribute_for_interactions(interaction_ids=interaction_ids) + opens_record_for_interactions(
        interaction_ids=interaction_ids
    )


def interactions_listener(interaction_ids: list[int]) -> None:
    """touchpoints.events listener (registered in JourneysConfig.ready): runs once the recording transaction has
    committed, and queues the rules for the new interactions in batches of JOURNEY_RULES_BATCH_SIZE."""
    size = settings.JOURNEY_RULES_BATCH_SIZE
    for start in range(0, len(interaction_ids), size):
        rules_apply_to_interactions_task.delay(interaction_ids[start:start + size])


def queue_attribution(interaction_ids: list[int]) -> None:
    """touchpoints.events listener: orders recorded anywhere (POS, ecommerce, imports, API) are attributed to the
    follow-ups before them."""
    followups_attribute_task.delay(list(interaction_ids))
