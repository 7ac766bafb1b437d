"""Writes to journeys: enrolling clients and moving them between stages, always with a Transition."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Customer
from journeys.models import Enrollment, FollowUp, Journey, Rule, Stage, Transition
from touchpoints.models import Interaction

logger = logging.getLogger(__name__)


@transaction.atomic
def enrollment_enroll(
    *,
    customer: Customer,
    journey: Journey,
    stage: Stage | None = None,
    cause: str = Transition.Cause.ENROLLMENT,
    actor: AbstractBaseUser | None = None,
    occurred_at: dt.datetime | None = None,
) -> tuple[Enrollment, bool]:
    """Enroll a client in a journey at its first stage (or `stage`), writing the entering Transition.

    A client already in the journey stays where they are: returns (enrollment, False).
    """
    if not journey.is_active:
        raise ApplicationError.for_field("journey", f"The journey {journey.name!r} is not active.")
    if cause not in Transition.Cause.values:
        raise ApplicationError.for_field("cause", f"Unknown cause {cause!r}.")
    if stage is None:
        stage = journey.stages.order_by("position").first()
        if stage is None:
            raise ApplicationError.for_field("journey", f"The journey {journey.name!r} has no stages.")
    elif stage.journey_id != journey.pk:
        raise ApplicationError.for_field("stage", "The stage belongs to another journey.", stage=stage.pk)
    existing = Enrollment.objects.filter(customer=customer, journey=journey).first()
    if existing is not None:
        return existing, False
    moment = occurred_at or timezone.now()
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                customer=customer, journey=journey, stage=stage, stage_entered_at=moment, enrolled_at=moment
            )
    except IntegrityError:
        return Enrollment.objects.get(customer=customer, journey=journey), False
    Transition.objects.create(
        enrollment=enrollment, from_stage=None, to_stage=stage, occurred_at=moment, cause=cause, actor=actor
    )
    logger.info("journeys.enrolled enrollment_id=%s stage_id=%s", enrollment.pk, stage.pk)
    return enrollment, True


@transaction.atomic
def enrollment_move(
    *,
    enrollment: Enrollment,
    to_stage: Stage,
    cause: str,
    actor: AbstractBaseUser | None = None,
    interaction: Interaction | None = None,
    rule: Rule | None = None,
    note: str = "",
    occurred_at: dt.datetime | None = None,
) -> Transition:
    """Move a client to another stage of the same journey and record why (cause, rule, interaction, actor)."""
    if cause not in Transition.Cause.values or cause == Transition.Cause.ENROLLMENT:
        raise ApplicationError.for_field("cause", f"{cause!r} is not a cause of a stage move.")
    enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if to_stage.journey_id != enrollment.journey_id:
        raise ApplicationError.for_field("to_stage", "The stage belongs to another journey.", stage=to_stage.pk)
    if enrollment.exited_at is not None:
        raise ApplicationError("The client has left this journey; enroll them again to move them.")
    if to_stage.pk == enrollment.stage_id:
        raise ApplicationError.for_field("to_stage", f"The client is already in the stage {to_stage.name!r}.")
    moment = occurred_at or timezone.now()
    if moment < enrollment.stage_entered_at:
        raise ApplicationError.for_field("occurred_at", "A move cannot happen before the client entered their stage.")
    transition = Transition.objects.create(
        enrollment=enrollment,
        from_stage_id=enrollment.stage_id,
        to_stage=to_stage,
        occurred_at=moment,
        cause=cause,
        rule=rule,
        interaction=interaction,
        actor=actor,
        note=note[:240],
    )
    enrollment.stage, enrollment.stage_entered_at = to_stage, moment
    enrollment.save(update_fields=["stage", "stage_entered_at", "updated_at"])
    logger.info("journeys.moved enrollment_id=%s to_stage=%s cause=%s", enrollment.pk, to_stage.pk, cause)
    return transition


def move_journeys(*, surviving: Customer, merged: Customer) -> dict[str, int]:
    """Journeys' part of a client merge. Where both were in one journey, the survivor's enrollment stays and the
    duplicate's history is kept on it."""
    moved_transitions = 0
    for enrollment in Enrollment.objects.filter(customer=merged):
        kept = Enrollment.objects.filter(customer=surviving, journey_id=enrollment.journey_id).first()
        if kept is not None:
            moved_transitions += Transition.objects.filter(enrollment=enrollment).update(enrollment=kept)
            enrollment.delete()
    return {
        "enrollments": Enrollment.objects.filter(customer=merged).update(customer=surviving),
        "transitions_of_duplicate_enrollments": moved_transitions,
        "followups": FollowUp.objects.filter(customer=merged).update(customer=surviving),
    }
