"""Celery tasks of journeys: thin wrappers over the follow-up services, taking ids."""

from __future__ import annotations

import logging

from celery import shared_task

from journeys.services.attribution import opens_record_for_interactions, orders_attribute_for_interactions
from journeys.services.dispatch import followups_dispatch_due

logger = logging.getLogger(__name__)


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


def queue_attribution(interaction_ids: list[int]) -> None:
    """The touchpoints listener (registered in JourneysConfig.ready): runs after the commit that recorded them."""
    followups_attribute_task.delay(list(interaction_ids))
