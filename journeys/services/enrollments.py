"""Enrolling clients and moving them between stages, always with a Transition.

One writer: StageMoveBatch decides each move against the enrollments it holds locked (in memory, so that a later
move of the same batch sees the stage an earlier one gave) and writes them set-based: one INSERT of the new
enrollments, one INSERT of the Transitions, one UPDATE of the moved enrollments, whatever their number.
enrollments_move_many is the batch service; enrollment_enroll, enrollment_move and enrollment_place (and the
admin's bulk actions, and the rule engine) are calls of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
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
ACTOR_LABEL_MAX_LENGTH = Transition._meta.get_field("actor_label").max_length
UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


@dataclass(frozen=True)
class StageMove:
    """One stage move to make: put the client `customer_id` in `to_stage` of the journey `journey_id` (None: the
    journey's first stage, when enrolling).

    `enroll`: a client not in the journey is enrolled straight into the stage (else refused, not_enrolled);
    `move`: a client already in it is moved (else left where they are, unchanged, already_enrolled).
    `clamp_to_stage_entry`: a move dated before the client entered their stage happens at that entry (the rules'
    moves) instead of being refused. Who and why go on the Transition: cause, rule, interaction, actor (a staff
    member, whose reach is checked) or actor_label (a caller that is no staff member), note."""

    customer_id: int
    journey_id: int
    to_stage: Stage | None
    cause: str
    enroll: bool = False
    move: bool = True
    occurred_at: dt.datetime | None = None
    clamp_to_stage_entry: bool = False
    actor: AbstractBaseUser | None = None
    actor_label: str = ""
    note: str = ""
    rule_id: int | None = None
    interaction_id: int | None = None


class StageMoveResult:
    """What became of one StageMove: enrolled or moved (with the enrollment and its new Transition), unchanged
    (already_enrolled, already_there) or refused (left, not_enrolled, invalid), with the reason as the
    ApplicationError the row services raise."""

    ENROLLED, MOVED, UNCHANGED, REFUSED = "enrolled", "moved", "unchanged", "refused"

    __slots__ = ("status", "enrollment", "transition", "code", "reason")

    def __init__(self, status: str, enrollment: Enrollment | None = None, transition: Transition | None = None,
                 code: str = "", reason: ApplicationError | None = None) -> None:
        self.status, self.enrollment, self.transition, self.code, self.reason = (
            status, enrollment, transition, code, reason
        )

    @property
    def is_written(self) -> bool:
        return self.status in (self.ENROLLED, self.MOVED)

    def __repr__(self) -> str:
        return f"StageMoveResult({self.status!r}, code={self.code!r})"


class EnrolledMeanwhile(Exception):
    """Another transaction enrolled one of the batch's clients in the journey after the batch read its enrollments:
    the batch is decided again (enrollments_move_many, the rule engine), this time finding that enrollment."""


@dataclass
class StageMoveBatch:
    """The one writer of stage moves. Holds the enrollments of the clients it may move (locked by lock()), decides
    each StageMove as it is added (add: checks, the new state applied in memory at once) and writes them all with
    write(): a handful of statements per batch, never one per move. Use it inside a transaction."""

    enrollments: dict[tuple[int, int], Enrollment]
    journeys: dict[int, Journey]
    now: dt.datetime = field(default_factory=timezone.now)
    new_enrollments: list[Enrollment] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    moved: dict[int, Enrollment] = field(default_factory=dict)
    first_stages: dict[int, Stage | None] = field(default_factory=dict)

    @classmethod
    def lock(cls, *, customer_ids: Iterable[int], journey_ids: Iterable[int], now: dt.datetime | None = None,
             journeys: dict[int, Journey] | None = None) -> StageMoveBatch:
        """A batch over these clients' enrollments in these journeys, locked in id order (two batches never
        deadlock), with the journeys (read, unless the caller has them)."""
        customer_ids, journey_ids = sorted(set(customer_ids)), sorted(set(journey_ids))
        enrollments = {
            (enrollment.customer_id, enrollment.journey_id): enrollment
            for enrollment in Enrollment.objects.select_for_update()
            .filter(customer_id__in=customer_ids, journey_id__in=journey_ids).order_by("pk")
        }
        if journeys is None:
            journeys = Journey.objects.in_bulk(journey_ids)
        return cls(enrollments=enrollments, journeys=journeys, now=now or timezone.now())

    def add(self, move: StageMove) -> StageMoveResult:
        """Decide one move against the state the batch holds (earlier moves included) and apply it in memory."""
        enrollment = self.enrollments.get((move.customer_id, move.journey_id))
        try:
            if enrollment is None or not move.move:
                return self._enroll(move, enrollment)
            return self._move(move, enrollment)
        except ApplicationError as error:
            return StageMoveResult(StageMoveResult.REFUSED, enrollment, code="invalid", reason=error)

    def _first_stage(self, journey: Journey) -> Stage | None:
        if journey.pk not in self.first_stages:
            self.first_stages[journey.pk] = journey.stages.order_by("position").first()
        return self.first_stages[journey.pk]

    def _enroll(self, move: StageMove, enrollment: Enrollment | None) -> StageMoveResult:
        journey = self.journeys.get(move.journey_id)
        if journey is None:
            raise ApplicationError.for_field("journey", f"There is no journey {move.journey_id!r}.")
        if not journey.is_active:
            raise ApplicationError.for_field("journey", f"The journey {journey.name!r} is not active.")
        if move.cause not in Transition.Cause.values:
            raise ApplicationError.for_field("cause", f"Unknown cause {move.cause!r}.")
        stage = move.to_stage
        if stage is None:
            stage = self._first_stage(journey)
            if stage is None:
                raise ApplicationError.for_field("journey", f"The journey {journey.name!r} has no stages.")
        elif stage.journey_id != journey.pk:
            raise ApplicationError.for_field("stage", "The stage belongs to another journey.", stage=stage.pk)
        if enrollment is not None:
            return StageMoveResult(StageMoveResult.UNCHANGED, enrollment, code="already_enrolled")
        if not move.enroll:
            return StageMoveResult(
                StageMoveResult.REFUSED, code="not_enrolled",
                reason=ApplicationError("The client is not in this journey; enroll them first."),
            )
        moment = move.occurred_at or self.now
        enrollment = Enrollment(customer_id=move.customer_id, journey=journey, stage=stage, stage_entered_at=moment,
                                enrolled_at=moment)
        self.enrollments[(move.customer_id, move.journey_id)] = enrollment
        self.new_enrollments.append(enrollment)
        return StageMoveResult(StageMoveResult.ENROLLED, enrollment,
                               self._transition(move, enrollment, from_stage_id=None, to_stage=stage, moment=moment))

    def _move(self, move: StageMove, enrollment: Enrollment) -> StageMoveResult:
        to_stage = move.to_stage
        if move.cause not in Transition.Cause.values or move.cause == Transition.Cause.ENROLLMENT:
            raise ApplicationError.for_field("cause", f"{move.cause!r} is not a cause of a stage move.")
        if to_stage is None or to_stage.journey_id != enrollment.journey_id:
            raise ApplicationError.for_field("to_stage", "The stage belongs to another journey.",
                                             stage=getattr(to_stage, "pk", None))
        if enrollment.exited_at is not None:
            return StageMoveResult(
                StageMoveResult.REFUSED, enrollment, code="left",
                reason=ApplicationError("The client has left this journey; enroll them again to move them."),
            )
        if to_stage.pk == enrollment.stage_id:
            return StageMoveResult(
                StageMoveResult.UNCHANGED, enrollment, code="already_there",
                reason=ApplicationError.for_field("to_stage", f"The client is already in the stage {to_stage.name!r}."),
            )
        moment = move.occurred_at or self.now
        if moment < enrollment.stage_entered_at:
            if not move.clamp_to_stage_entry:
                raise ApplicationError.for_field(
                    "occurred_at", "A move cannot happen before the client entered their stage."
                )
            moment = enrollment.stage_entered_at
        transition = self._transition(move, enrollment, from_stage_id=enrollment.stage_id, to_stage=to_stage,
                                      moment=moment)
        enrollment.stage, enrollment.stage_entered_at, enrollment.updated_at = to_stage, moment, self.now
        if enrollment.pk is not None:  # a client enrolled by this batch is inserted in their last stage
            self.moved[enrollment.pk] = enrollment
        return StageMoveResult(StageMoveResult.MOVED, enrollment, transition)

    def _transition(self, move: StageMove, enrollment: Enrollment, *, from_stage_id: int | None, to_stage: Stage,
                    moment: dt.datetime) -> Transition:
        transition = Transition(
            enrollment=enrollment, from_stage_id=from_stage_id, to_stage=to_stage, occurred_at=moment,
            cause=move.cause, rule_id=move.rule_id, interaction_id=move.interaction_id, actor=move.actor,
            actor_label=move.actor_label[:ACTOR_LABEL_MAX_LENGTH], note=move.note[:NOTE_MAX_LENGTH],
        )
        self.transitions.append(transition)
        return transition

    def write(self) -> None:
        """Write what the batch decided: the new enrollments, the Transitions, the moved enrollments. Raises
        EnrolledMeanwhile (nothing written) when another transaction enrolled one of the new clients first."""
        if self.new_enrollments:
            try:
                with transaction.atomic():
                    Enrollment.objects.bulk_create(self.new_enrollments)
            except IntegrityError as error:
                # Only the one-per-client-and-journey key means "enrolled meanwhile"; any other constraint is a
                # real refusal.
                if getattr(error.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
                    raise
                raise EnrolledMeanwhile from error
        if self.moved:
            moved = list(self.moved.values())
            with connection.cursor() as cursor:
                # One UPDATE ... FROM unnest for the batch (bulk_update's CASE per row grows with the square).
                cursor.execute(
                    f"""
                    UPDATE {Enrollment._meta.db_table} e
                    SET stage_id = moved.stage_id, stage_entered_at = moved.stage_entered_at, updated_at = %s
                    FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[]) AS moved(id, stage_id, stage_entered_at)
                    WHERE e.id = moved.id
                    """,  # noqa: S608 (the table name from the model; values are parameters)
                    [self.now, [e.pk for e in moved], [e.stage_id for e in moved],
                     [e.stage_entered_at for e in moved]],
                )
        Transition.objects.bulk_create(self.transitions)
        # Insight's journey map follows every stage move, after the commit.
        clients_changed(transition.enrollment.customer_id for transition in self.transitions)
        if self.transitions:
            logger.info("journeys.stage_moves enrolled=%s moved=%s transitions=%s", len(self.new_enrollments),
                        len(self.moved), len(self.transitions))
        self.new_enrollments, self.transitions, self.moved = [], [], {}


def _check_reach(moves: Sequence[StageMove]) -> None:
    """Every staff member named in the batch reaches the clients of their moves (one query for the batch)."""
    by_actor: dict[AbstractBaseUser, set[int]] = {}
    for move in moves:
        if move.actor is not None:
            by_actor.setdefault(move.actor, set()).add(move.customer_id)
    if not by_actor:
        return
    boutiques = dict(
        Customer.objects.filter(pk__in=set().union(*by_actor.values())).values_list("pk", "home_boutique_id")
    )
    for actor, customer_ids in by_actor.items():
        require_reach(actor, [boutiques.get(customer_id) for customer_id in customer_ids])


@transaction.atomic
def enrollments_move_many(moves: Sequence[StageMove], *, now: dt.datetime | None = None) -> list[StageMoveResult]:
    """Make these stage moves (enrollments among them), in order, and answer one result per move: enrolled,
    moved, unchanged or refused with the reason. A staff member out of reach of any client refuses the batch.

    Set-based: the enrollments are read and locked in one query, the writes are three statements
    (StageMoveBatch). A client someone else enrolled meanwhile is found at a second try."""
    moves = list(moves)
    if not moves:
        return []
    _check_reach(moves)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                batch = StageMoveBatch.lock(customer_ids={m.customer_id for m in moves},
                                            journey_ids={m.journey_id for m in moves}, now=now)
                results = [batch.add(move) for move in moves]
                batch.write()
                return results
        except EnrolledMeanwhile:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _one(move: StageMove) -> StageMoveResult:
    return enrollments_move_many([move])[0]


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
    result = _one(StageMove(
        customer_id=customer.pk, journey_id=journey.pk, to_stage=stage, cause=cause, enroll=True, move=False,
        occurred_at=occurred_at, actor=actor, note=note, rule_id=getattr(rule, "pk", None),
        interaction_id=getattr(interaction, "pk", None),
    ))
    if result.status == StageMoveResult.REFUSED:
        raise result.reason
    result.enrollment.customer = customer
    return result.enrollment, result.status == StageMoveResult.ENROLLED


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
    result = _one(StageMove(
        customer_id=enrollment.customer_id, journey_id=enrollment.journey_id, to_stage=to_stage, cause=cause,
        occurred_at=occurred_at, actor=actor, actor_label=actor_label, note=note, rule_id=getattr(rule, "pk", None),
        interaction_id=getattr(interaction, "pk", None),
    ))
    if result.status != StageMoveResult.MOVED:
        raise result.reason
    return result.transition


def _checked_place_note(to_stage: Stage, note: str) -> str:
    """enrollment_place's own checks: a reason, not too long, and a stage of an active journey."""
    note = (note or "").strip()
    if not note:
        raise ApplicationError.for_field("note", "Say why the client moves to this stage.")
    if len(note) > NOTE_MAX_LENGTH:
        raise ApplicationError.for_field("note", f"Keep the reason under {NOTE_MAX_LENGTH} characters.")
    journey = to_stage.journey
    if not journey.is_active:
        raise ApplicationError.for_field("to_stage", f"The journey {journey.name!r} is not active.")
    return note


def _place(customer_id: int, to_stage: Stage, actor: AbstractBaseUser | None, note: str, *,
           enroll: bool = True) -> StageMove:
    return StageMove(customer_id=customer_id, journey_id=to_stage.journey_id, to_stage=to_stage,
                     cause=Transition.Cause.MANUAL, enroll=enroll, actor=actor, note=note)


def enrollment_place(
    *, customer: Customer, to_stage: Stage, actor: AbstractBaseUser | None, note: str
) -> Transition:
    """Put a client in a stage by hand and say why: a move within the stage's journey, or, when the client is not
    in that journey yet, an enrollment straight into the stage. Either way one Transition, cause manual, with the
    staff member as actor and the reason as note."""
    note = _checked_place_note(to_stage, note)
    result = _one(_place(customer.pk, to_stage, actor, note))
    if not result.is_written:
        raise result.reason
    return result.transition


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
    """Enroll a selection of clients in a journey at its first stage, by hand (cause manual, `actor`): one batch
    of enrollments_move_many.

    Clients already in the journey stay where they are. Returns {"enrolled": n, "already_enrolled": n}.
    """
    require_reach(actor, set(customers.values_list("home_boutique_id", flat=True)))
    customer_ids = Customer.objects.filter(pk__in=customers.values("pk")).order_by("pk").values_list("pk", flat=True)
    results = enrollments_move_many([
        StageMove(customer_id=customer_id, journey_id=journey.pk, to_stage=None, cause=Transition.Cause.MANUAL,
                  enroll=True, move=False, actor=actor, note=note)
        for customer_id in customer_ids
    ])
    for result in results:
        if result.status == StageMoveResult.REFUSED:
            raise result.reason
    counts = {"enrolled": 0, "already_enrolled": 0}
    for result in results:
        counts["enrolled" if result.status == StageMoveResult.ENROLLED else "already_enrolled"] += 1
    logger.info("journeys.bulk_enrolled journey_id=%s enrolled=%s", journey.pk, counts["enrolled"])
    return counts


@transaction.atomic
def customers_place_in_stage(
    *, customers: QuerySet[Customer], to_stage: Stage, actor: AbstractBaseUser | None, note: str,
    enroll_missing: bool,
) -> dict[str, int]:
    """Put a selection of clients in a stage by hand (enrollment_place's moves, one batch of
    enrollments_move_many, so one Transition each with the reason as note). Clients not in the stage's journey are
    enrolled straight into the stage when `enroll_missing`, else skipped; clients already there, or who have left
    the journey, are skipped.

    Returns the counts: moved, enrolled, already_there, skipped_not_enrolled, skipped_left.
    """
    counts = dict.fromkeys(["moved", "enrolled", "already_there", "skipped_not_enrolled", "skipped_left"], 0)
    selected = Customer.objects.filter(pk__in=customers.values("pk")).order_by("pk")
    require_reach(actor, set(selected.values_list("home_boutique_id", flat=True)))
    note = _checked_place_note(to_stage, note)
    results = enrollments_move_many([
        _place(customer_id, to_stage, actor, note, enroll=enroll_missing)
        for customer_id in selected.values_list("pk", flat=True)
    ])
    names = {"enrolled": "enrolled", "moved": "moved", "already_there": "already_there",
             "not_enrolled": "skipped_not_enrolled", "left": "skipped_left"}
    for result in results:
        name = names.get(result.status if result.is_written else result.code)
        if name is None:
            raise result.reason
        counts[name] += 1
    logger.info("journeys.bulk_placed stage_id=%s moved=%s enrolled=%s", to_stage.pk, counts["moved"],
                counts["enrolled"])
    return counts
