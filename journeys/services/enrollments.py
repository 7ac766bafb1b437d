"""Enrolling clients and moving them between stages, always with a Transition."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.client_changes import clients_changed
from core.errors import ApplicationError
from customers.models import Customer
from customers.scoping import require_reach
from journeys.models import Enrollment, FollowUp, HandsOff, Journey, Rule, Stage, Transition
from touchpoints.models import Interaction

logger = logging.getLogger(__name__)

# Transition.note's length: a longer reason is refused rather than cut.
NOTE_MAX_LENGTH = Transition._meta.get_field("note").max_length


@transaction.atomic
def enrollment_enroll(
    *,
    customer: Customer,
    journey: Journey,
    stage: Stage | None = None,
    cause: str = Transition.Cause.ENROLLMENT,
    actor: AbstractBaseUser | None = None,
    occurred_at: dt.datetime | None = None,
    note: str = "",
    rule: Rule | None = None,
    interaction: Interaction | None = None,
) -> tuple[Enrollment, bool]:
    """Enroll a client in a journey at its first stage (or `stage`), writing the entering Transition (with `note`,
    why, when a person enrolls them; with the `rule` and `interaction` when a rule enrolls them).

    A client already in the journey stays where they are: returns (enrollment, False).
    """
    require_reach(actor, [customer.home_boutique_id])
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
        enrollment=enrollment, from_stage=None, to_stage=stage, occurred_at=moment, cause=cause, actor=actor,
        note=note[:240], rule=rule, interaction=interaction,
    )
    clients_changed([customer.pk])  # Insight's journey map follows, after the commit.
    logger.info("journeys.enrolled enrollment_id=%s stage_id=%s", enrollment.pk, stage.pk)
    return enrollment, True


@transaction.atomic
def enrollment_move(
    *,
    enrollment: Enrollment,
    to_stage: Stage,
    cause: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    interaction: Interaction | None = None,
    rule: Rule | None = None,
    note: str = "",
    occurred_at: dt.datetime | None = None,
) -> Transition:
    """Move a client to another stage of the same journey and record why (cause, rule, interaction, actor).

    `actor_label` names a caller that is no staff user (an integration's API key)."""
    if cause not in Transition.Cause.values or cause == Transition.Cause.ENROLLMENT:
        raise ApplicationError.for_field("cause", f"{cause!r} is not a cause of a stage move.")
    enrollment = Enrollment.objects.select_for_update().select_related("customer").get(pk=enrollment.pk)
    require_reach(actor, [enrollment.customer.home_boutique_id])
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
        actor_label=actor_label[:120],
        note=note[:240],
    )
    enrollment.stage, enrollment.stage_entered_at = to_stage, moment
    enrollment.save(update_fields=["stage", "stage_entered_at", "updated_at"])
    clients_changed([enrollment.customer_id])  # Insight's journey map follows, after the commit.
    logger.info("journeys.moved enrollment_id=%s to_stage=%s cause=%s", enrollment.pk, to_stage.pk, cause)
    return transition


@transaction.atomic
def enrollment_place(
    *, customer: Customer, to_stage: Stage, actor: AbstractBaseUser | None, note: str
) -> Transition:
    """Put a client in a stage by hand and say why: a move within the stage's journey, or, when the client is not
    in that journey yet, an enrollment straight into the stage. Either way one Transition, cause manual, with the
    staff member as actor and the reason as note."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError.for_field("note", "Say why the client moves to this stage.")
    if len(note) > NOTE_MAX_LENGTH:
        raise ApplicationError.for_field("note", f"Keep the reason under {NOTE_MAX_LENGTH} characters.")
    journey = to_stage.journey
    if not journey.is_active:
        raise ApplicationError.for_field("to_stage", f"The journey {journey.name!r} is not active.")
    enrollment = Enrollment.objects.filter(customer=customer, journey=journey).first()
    if enrollment is None:
        enrollment, created = enrollment_enroll(
            customer=customer, journey=journey, stage=to_stage, cause=Transition.Cause.MANUAL, actor=actor, note=note
        )
        if created:
            return Transition.objects.get(enrollment=enrollment)
        # Someone enrolled the client meanwhile: move them from wherever that put them.
    return enrollment_move(
        enrollment=enrollment, to_stage=to_stage, cause=Transition.Cause.MANUAL, actor=actor, note=note
    )


def move_journeys(*, surviving: Customer, merged: Customer) -> dict[str, int]:
    """Journeys' part of a client merge. Where both were in one journey, the survivor's enrollment stays and the
    duplicate's history is kept on it."""
    moved_transitions = 0
    for enrollment in Enrollment.objects.filter(customer=merged):
        kept = Enrollment.objects.filter(customer=surviving, journey_id=enrollment.journey_id).first()
        if kept is not None:
            moved_transitions += Transition.objects.filter(enrollment=enrollment).update(enrollment=kept)
            enrollment.delete()
    # One open pause per client: the survivor's holds; the duplicate's open one is closed as it moves over.
    if HandsOff.objects.filter(customer=surviving, lifted_at__isnull=True).exists():
        HandsOff.objects.filter(customer=merged, lifted_at__isnull=True).update(lifted_at=timezone.now())
    moved = {
        "enrollments": Enrollment.objects.filter(customer=merged).update(customer=surviving),
        "transitions_of_duplicate_enrollments": moved_transitions,
        "followups": FollowUp.objects.filter(customer=merged).update(customer=surviving),
    }
    hands_offs = HandsOff.objects.filter(customer=merged).update(customer=surviving)
    if hands_offs:
        moved["hands_offs"] = hands_offs
    return moved


@transaction.atomic
def customers_enroll(
    *, customers: QuerySet[Customer], journey: Journey, actor: AbstractBaseUser | None, note: str = ""
) -> dict[str, int]:
    """Enroll a selection of clients in a journey at its first stage, by hand (cause manual, `actor`).

    Clients already in the journey stay where they are. Returns {"enrolled": n, "already_enrolled": n}.
    """
    require_reach(actor, set(customers.values_list("home_boutique_id", flat=True)))
    counts = {"enrolled": 0, "already_enrolled": 0}
    for customer in Customer.objects.filter(pk__in=customers.values("pk")).order_by("pk"):
        _, created = enrollment_enroll(
            customer=customer, journey=journey, cause=Transition.Cause.MANUAL, actor=actor, note=note
        )
        counts["enrolled" if created else "already_enrolled"] += 1
    logger.info("journeys.bulk_enrolled journey_id=%s enrolled=%s", journey.pk, counts["enrolled"])
    return counts


@transaction.atomic
def customers_place_in_stage(
    *, customers: QuerySet[Customer], to_stage: Stage, actor: AbstractBaseUser | None, note: str,
    enroll_missing: bool,
) -> dict[str, int]:
    """Put a selection of clients in a stage by hand (enrollment_place for each, so one Transition each with the
    reason as note). Clients not in the stage's journey are enrolled straight into the stage when
    `enroll_missing`, else skipped; clients already there, or who have left the journey, are skipped.

    Returns the counts: moved, enrolled, already_there, skipped_not_enrolled, skipped_left.
    """
    counts = dict.fromkeys(["moved", "enrolled", "already_there", "skipped_not_enrolled", "skipped_left"], 0)
    selected = Customer.objects.filter(pk__in=customers.values("pk")).order_by("pk")
    require_reach(actor, set(selected.values_list("home_boutique_id", flat=True)))
    enrollments = {
        enrollment.customer_id: enrollment
        for enrollment in Enrollment.objects.filter(journey_id=to_stage.journey_id, customer__in=selected)
    }
    for customer in selected:
        enrollment = enrollments.get(customer.pk)
        if enrollment is None and not enroll_missing:
            counts["skipped_not_enrolled"] += 1
        elif enrollment is not None and enrollment.exited_at is not None:
            counts["skipped_left"] += 1
        elif enrollment is not None and enrollment.stage_id == to_stage.pk:
            counts["already_there"] += 1
        else:
            enrollment_place(customer=customer, to_stage=to_stage, actor=actor, note=note)
            counts["moved" if enrollment is not None else "enrolled"] += 1
    logger.info("journeys.bulk_placed stage_id=%s moved=%s enrolled=%s", to_stage.pk, counts["moved"],
                counts["enrolled"])
    return counts
