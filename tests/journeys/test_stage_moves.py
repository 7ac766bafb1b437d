"""The one writer of stage moves: enrollments_move_many answers one result per move, writes set-based, and is what
the row services, the admin's bulk actions and the rule engine call."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError
from customers.models import Advisor, Customer, SourceSystem
from customers.services import customer_upsert
from journeys.models import Enrollment, Journey, Stage, Transition
from journeys.services import enrollment_enroll, rules_apply_to_interactions
from journeys.services.enrollments import StageMove, enrollments_move_many
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.services import interaction_record

pytestmark = pytest.mark.django_db


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 5, day, 10, tzinfo=dt.UTC)


def stage(journey: Journey, key: str) -> Stage:
    return journey.stages.get(key=key)


def client(number: int, **fields) -> Customer:
    return customer_upsert(source="crm", external_id=f"SM-{number}", email=f"sm{number}@example.com",
                           **fields).customer


def move(customer: Customer, to_stage: Stage | None, **fields) -> StageMove:
    fields.setdefault("cause", Transition.Cause.MANUAL)
    journey_id = fields.pop("journey_id", None) or to_stage.journey_id
    return StageMove(customer_id=customer.pk, journey_id=journey_id, to_stage=to_stage, **fields)


def transitions_of(customer: Customer) -> list[tuple[str | None, str, str]]:
    return [
        (t.from_stage.key if t.from_stage else None, t.to_stage.key, t.cause)
        for t in Transition.objects.filter(enrollment__customer=customer).order_by("pk")
    ]


def test_a_batch_answers_one_result_per_move_and_writes_only_what_it_may(lifecycle):
    new, moving, left, there, outside, foreign = (client(number) for number in range(1, 7))
    enrollment_enroll(customer=moving, journey=lifecycle, occurred_at=at(1))
    gone, _ = enrollment_enroll(customer=left, journey=lifecycle, occurred_at=at(1))
    Enrollment.objects.filter(pk=gone.pk).update(exited_at=at(2))
    enrollment_enroll(customer=there, journey=lifecycle, stage=stage(lifecycle, "purchase"), occurred_at=at(1))
    enrollment_enroll(customer=foreign, journey=lifecycle, occurred_at=at(1))
    bridal = Journey.objects.create(name="Bridal", slug="bridal")
    fitting = Stage.objects.create(journey=bridal, key="fitting", name="Fitting", position=1)

    results = enrollments_move_many([
        move(new, stage(lifecycle, "consideration"), enroll=True, occurred_at=at(3), note="Asked for the bag"),
        move(moving, stage(lifecycle, "purchase"), occurred_at=at(3)),
        move(left, stage(lifecycle, "purchase"), occurred_at=at(3)),
        move(there, stage(lifecycle, "purchase"), occurred_at=at(3)),
        move(outside, stage(lifecycle, "purchase"), occurred_at=at(3)),
        move(foreign, fitting, journey_id=lifecycle.pk, occurred_at=at(3)),
    ])

    assert [(r.status, r.code) for r in results] == [
        ("enrolled", ""), ("moved", ""), ("refused", "left"), ("unchanged", "already_there"),
        ("refused", "not_enrolled"), ("refused", "invalid"),
    ]
    assert [r.reason.message if r.reason else None for r in results] == [
        None, None, "The client has left this journey; enroll them again to move them.",
        "The client is already in the stage 'Purchase'.", "The client is not in this journey; enroll them first.",
        "The stage belongs to another journey.",
    ]
    assert transitions_of(new) == [(None, "consideration", "manual")]
    assert Transition.objects.get(enrollment__customer=new).note == "Asked for the bag"
    assert transitions_of(moving) == [(None, "awareness", "enrollment"), ("awareness", "purchase", "manual")]
    assert [len(transitions_of(c)) for c in (left, there, outside, foreign)] == [1, 1, 0, 1]
    assert dict(Enrollment.objects.values_list("customer_id", "stage__key")) == {
        new.pk: "consideration", moving.pk: "purchase", left.pk: "awareness", there.pk: "purchase",
        foreign.pk: "awareness",
    }
    assert Enrollment.objects.get(customer=moving).stage_entered_at == at(3)


def test_moves_of_one_client_in_one_batch_follow_each_other(lifecycle):
    camille = client(1)

    results = enrollments_move_many([
        move(camille, stage(lifecycle, "awareness"), enroll=True, occurred_at=at(1)),
        move(camille, stage(lifecycle, "consideration"), occurred_at=at(2)),
        move(camille, stage(lifecycle, "purchase"), occurred_at=at(3), cause=Transition.Cause.RULE),
    ])

    assert [r.status for r in results] == ["enrolled", "moved", "moved"]
    assert transitions_of(camille) == [
        (None, "awareness", "manual"), ("awareness", "consideration", "manual"), ("consideration", "purchase", "rule"),
    ]
    enrollment = Enrollment.objects.get(customer=camille)
    assert (enrollment.stage.key, enrollment.enrolled_at, enrollment.stage_entered_at) == ("purchase", at(1), at(3))
    assert [t.occurred_at for t in Transition.objects.order_by("pk")] == [at(1), at(2), at(3)]


def test_a_batch_takes_as_many_statements_for_fifty_moves_as_for_one(lifecycle):
    enrolled = [client(number) for number in range(1, 52)]
    newcomers = [client(number) for number in range(100, 151)]
    for customer in enrolled:
        enrollment_enroll(customer=customer, journey=lifecycle, occurred_at=at(1))

    def statements(customers: list[Customer], to: str, **fields) -> int:
        to_stage = stage(lifecycle, to)
        with CaptureQueriesContext(connection) as queries:
            results = enrollments_move_many([move(c, to_stage, occurred_at=at(2), **fields) for c in customers])
        assert {r.status for r in results} == {"moved" if not fields else "enrolled"}
        return len(queries)

    assert statements(enrolled[:1], "purchase") == statements(enrolled[1:], "purchase")
    assert statements(newcomers[:1], "loyalty", enroll=True) == statements(newcomers[1:], "loyalty", enroll=True)
    assert Transition.objects.filter(to_stage__key="purchase").count() == 51
    assert Enrollment.objects.filter(stage__key="loyalty").count() == 51


def test_a_move_dated_before_the_client_entered_their_stage_is_refused_unless_clamped(lifecycle):
    camille = client(1)
    enrollment_enroll(customer=camille, journey=lifecycle, occurred_at=at(5))

    refused, clamped = enrollments_move_many([
        move(camille, stage(lifecycle, "purchase"), occurred_at=at(3)),
        move(camille, stage(lifecycle, "purchase"), occurred_at=at(3), clamp_to_stage_entry=True),
    ])

    assert (refused.status, refused.reason.fields) == (
        "refused", {"occurred_at": ["A move cannot happen before the client entered their stage."]}
    )
    assert (clamped.status, clamped.transition.occurred_at) == ("moved", at(5))


def test_a_staff_member_out_of_reach_of_one_client_refuses_the_whole_batch(lifecycle):
    paris, london = BoutiqueFactory(code="PAR"), BoutiqueFactory(code="LON")
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris)
    mine, theirs = client(1, home_boutique=paris), client(2, home_boutique=london)

    with pytest.raises(ApplicationError, match="out of your reach"):
        enrollments_move_many([
            move(mine, stage(lifecycle, "awareness"), enroll=True, actor=manager),
            move(theirs, stage(lifecycle, "awareness"), enroll=True, actor=manager),
        ])

    assert (Enrollment.objects.count(), Transition.objects.count()) == (0, 0)


def test_an_inactive_journey_enrolls_nobody_but_its_clients_still_move(lifecycle):
    camille, louis = client(1), client(2)
    enrollment_enroll(customer=camille, journey=lifecycle, occurred_at=at(1))
    Journey.objects.filter(pk=lifecycle.pk).update(is_active=False)

    moved, refused = enrollments_move_many([
        move(camille, stage(lifecycle, "purchase"), occurred_at=at(2)),
        move(louis, stage(lifecycle, "purchase"), enroll=True, occurred_at=at(2)),
    ])

    assert (moved.status, refused.status, refused.reason.message) == (
        "moved", "refused", "The journey 'Client lifecycle' is not active."
    )


def test_the_rule_engine_moves_through_the_same_writer_with_a_survey_score_given_as_text(lifecycle):
    scores = {"9": "advocacy", " 10 ": "advocacy", "high": "post_purchase", True: "post_purchase"}
    clients = {}
    for number, score in enumerate(scores, start=1):
        customer = clients[score] = client(number)
        enrollment_enroll(customer=customer, journey=lifecycle, stage=stage(lifecycle, "post_purchase"),
                          occurred_at=at(1))
    interactions = [
        interaction_record(customer=customer, touchpoint_type="survey_answered", occurred_at=at(10),
                           source=SourceSystem.ATELIER, metadata={"score": score}).record
        for score, customer in clients.items()
    ]

    outcome = rules_apply_to_interactions(interaction_ids=[i.pk for i in interactions], now=at(11))

    assert outcome.moved == 2
    assert {score: Enrollment.objects.get(customer=customer).stage.key for score, customer in clients.items()} == scores
    promoted = Transition.objects.filter(cause="rule").select_related("rule")
    assert {(t.rule.name.split(" ")[0], t.occurred_at) for t in promoted} == {("Promoter", at(11))}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_client_enrolled_meanwhile_by_another_transaction_is_found_at_the_second_try(lifecycle):
    camille = client(1)
    enrolled = threading.Event()

    def enroll_and_hold() -> None:
        try:
            with transaction.atomic():
                enrollment_enroll(customer=camille, journey=lifecycle, stage=stage(lifecycle, "loyalty"),
                                  occurred_at=at(1))
                enrolled.set()
                time.sleep(1)  # the main thread's INSERT waits on this uncommitted row meanwhile
        finally:
            connections.close_all()

    other = threading.Thread(target=enroll_and_hold)
    other.start()
    assert enrolled.wait(timeout=10)
    try:
        enrollment, created = enrollment_enroll(customer=camille, journey=lifecycle, occurred_at=at(2))
    finally:
        other.join()

    assert (created, enrollment.stage.key) == (False, "loyalty")
    assert transitions_of(camille) == [(None, "loyalty", "enrollment")]


def test_a_move_into_a_journey_that_does_not_exist_is_refused_with_the_reason():
    camille = client(1)

    (result,) = enrollments_move_many([
        StageMove(customer_id=camille.pk, journey_id=999_999, to_stage=None, cause="manual", enroll=True)
    ])

    assert (result.status, result.reason.fields) == ("refused", {"journey": ["There is no journey 999999."]})
    assert Enrollment.objects.count() == 0
