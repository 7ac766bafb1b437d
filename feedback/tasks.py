"""Celery tasks of feedback, thin wrappers over the services taking ids: scheduling the invitations of new
interactions (queued after their commit, whatever recorded them)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from feedback.services import invitations_schedule_many
from feedback.services.recovery import recovery_cases_escalate_due

# Interactions per task: each task is a handful of statements whatever its size (invitations_schedule_many).
SCHEDULE_BATCH_SIZE = 1000


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def invitations_schedule_many_task(interaction_ids: list[int]) -> dict[str, int]:
    """Schedule the survey invitations of new interactions. Idempotent (one invitation per survey and interaction),
    so a redelivered or retried task acts once; retried only when the database is out of reach."""
    return invitations_schedule_many(interaction_ids=interaction_ids).as_dict()


@shared_task(acks_late=True)
def recovery_cases_escalate_task() -> int:
    """From beat: escalate the recovery cases whose first contact is overdue. Idempotent (once per case)."""
    return recovery_cases_escalate_due(now=timezone.now())


def interactions_listener(interaction_ids: list[int]) -> None:
    """touchpoints.events listener (registered in FeedbackConfig.ready): runs once the recording transaction has
    committed, and queues the scheduling of the new interactions' invitations in batches."""
    for start in range(0, len(interaction_ids), SCHEDULE_BATCH_SIZE):
        invitations_schedule_many_task.delay(interaction_ids[start:start + SCHEDULE_BATCH_SIZE])
