"""Journeys: the default lifecycle, enrolling clients and moving them, always with a Transition."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from core.errors import ApplicationError
from customers.models import Advisor, Customer
from customers.services import customer_upsert
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, Journey, Stage, Transition
from journeys.privacy import CANCELLED_BY_ERASURE, journeys_personal_data_erase
from journeys.services import (
    enrollment_enroll,
    enrollment_move,
    followup_record_outcome,
    followup_snooze,
    followup_update_by_staff,
)
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 5, day, 10, tzinfo=dt.UTC)


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


@pytest.fixture
def client_record():
    return customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer


def test_the_default_lifecycle_has_six_ordered_stages(lifecycle):
    assert list(lifecycle.stages.values_list("position", "key")) == [
        (1, "awareness"), (2, "consideration"), (3, "purchase"), (4, "post_purchase"), (5, "loyalty"),
        (6, "advocacy"),
    ]
    assert sorted(lifecycle.stages.get(key="purchase").expected_touchpoint_types.values_list("code", flat=True)) == [
        "purchase"
    ]


def test_enrolling_puts_the_client_in_the_first_stage_with_a_transition(lifecycle, client_record):
    staff = make_staff(Advisor.Role.HEAD_OFFICE)

    enrollment, created = enrollment_enroll(customer=client_record, journey=lifecycle, actor=staff, occurred_at=at(1))

    assert created is True
    assert (enrollment.stage.key, enrollment.stage_entered_at, enrollment.enrolled_at) == ("awareness", at(1), at(1))
    transition = Transition.objects.get()
    assert (transition.from_stage, transition.to_stage, transition.cause, transition.actor) == (
        None, enrollment.stage, "enrollment", staff
    )


def test_enrolling_twice_keeps_the_client_where_they_are(lifecycle, client_record):
    first, _ = enrollment_enroll(customer=client_record, journey=lifecycle, occurred_at=at(1))

    again, created = enrollment_enroll(customer=client_record, journey=lifecycle,
                                       stage=lifecycle.stages.get(key="loyalty"))

    assert (created, again.pk, again.stage.key) == (False, first.pk, "awareness")
    assert (Enrollment.objects.count(), Transition.objects.count()) == (1, 1)


def test_a_move_records_from_to_cause_and_staff_member(lifecycle, client_record):
    staff = make_staff(Advisor.Role.HEAD_OFFICE)
    enrollment, _ = enrollment_enroll(customer=client_record, journey=lifecycle, occurred_at=at(1))
    purchase = lifecycle.stages.get(key="purchase")

    transition = enrollment_move(enrollment=enrollment, to_stage=purchase, cause="manual", actor=staff,
                                 note="Bought the Aurore bag in store", occurred_at=at(3))

    enrollment.refresh_from_db()
    assert (enrollment.stage, enrollment.stage_entered_at) == (purchase, at(3))
    assert (transition.from_stage.key, transition.to_stage.key, transition.cause, transition.actor) == (
        "awareness", "purchase", "manual", staff
    )
    assert transition.note == "Bought the Aurore bag in store"


def test_a_move_to_a_stage_of_another_journey_is_refused_and_nothing_moves(lifecycle, client_record):
    other = Journey.objects.create(name="Bridal", slug="bridal")
    foreign = Stage.objects.create(journey=other, key="fitting", name="Fitting", position=1)
    enrollment, _ = enrollment_enroll(customer=client_record, journey=lifecycle, occurred_at=at(1))

    with pytest.raises(ApplicationError, match="another journey"):
        enrollment_move(enrollment=enrollment, to_stage=foreign, cause="manual")

    enrollment.refresh_from_db()
    assert (enrollment.stage.key, Transition.objects.count()) == ("awareness", 1)


@pytest.mark.parametrize(
    ("stage_key", "cause", "occurred_at", "message"),
    [
        ("awareness", "manual", at(2), "already in the stage 'Awareness'"),
        ("loyalty", "whim", at(2), "'whim' is not a cause of a stage move"),
        ("loyalty", "enrollment", at(2), "'enrollment' is not a cause of a stage move"),
        ("loyalty", "manual", dt.datetime(2026, 4, 1, tzinfo=dt.UTC), "before the client entered their stage"),
    ],
)
def test_impossible_moves_are_refused(lifecycle, client_record, stage_key, cause, occurred_at, message):
    enrollment, _ = enrollment_enroll(customer=client_record, journey=lifecycle, occurred_at=at(1))

    with pytest.raises(ApplicationError, match=message):
        enrollment_move(enrollment=enrollment, to_stage=lifecycle.stages.get(key=stage_key), cause=cause,
                        occurred_at=occurred_at)

    assert Transition.objects.count() == 1


def test_a_client_cannot_be_enrolled_in_an_inactive_journey(client_record):
    dormant = Journey.objects.create(name="Dormant", slug="dormant", is_active=False)

    with pytest.raises(ApplicationError, match="is not active"):
        enrollment_enroll(customer=client_record, journey=dormant)
    assert Enrollment.objects.count() == 0


# --- follow-ups corrected by staff --------------------------------------------------------------------------


@pytest.fixture
def followup(client_record):
    template = FollowUpTemplate.objects.create(name="Call after purchase", channel="advisor_task")
    return FollowUp.objects.create(customer=client_record, template=template, channel="advisor_task", due_at=at(3),
                                   idempotency_key="test:1", body="Call Claire")


def test_staff_mark_a_scheduled_task_done_with_its_outcome(followup):
    with time_machine.travel(at(4), tick=False):
        changed = followup_update_by_staff(followup=followup, changes={"status": "done", "outcome": "sale"})

    followup.refresh_from_db()
    assert changed == ["status", "outcome", "sent_at"]
    assert (followup.status, followup.outcome, followup.body) == ("done", "sale", "Call Claire")
    assert followup.sent_at == at(4)  # attribution counts from the moment it was done


def test_staff_changes_and_outcomes_record_who_made_them_and_when(followup):
    head_office, colleague = make_staff(Advisor.Role.HEAD_OFFICE), make_staff(Advisor.Role.HEAD_OFFICE)
    second = FollowUp.objects.create(customer=followup.customer, template=followup.template, channel="advisor_task",
                                     due_at=at(3), idempotency_key="test:2", body="Call again")

    with time_machine.travel(at(4), tick=False):
        followup_update_by_staff(followup=followup, changes={"status": "cancelled", "status_reason": "Moved away"},
                                 actor=head_office)
    with time_machine.travel(at(5), tick=False):
        followup_record_outcome(followup=second, outcome="reached", actor=colleague)

    followup.refresh_from_db()
    second.refresh_from_db()
    assert (followup.handled_by, followup.handled_at) == (head_office, at(4))
    assert (second.handled_by, second.handled_at) == (colleague, at(5))


def test_staff_out_of_reach_cannot_correct_a_follow_up(followup):
    from tests.factories import BoutiqueFactory

    outsider = make_staff(Advisor.Role.BOUTIQUE_MANAGER, BoutiqueFactory(code="LON"))
    Customer.objects.filter(pk=followup.customer_id).update(home_boutique=BoutiqueFactory(code="PAR"))

    with pytest.raises(ApplicationError, match="out of your reach"):
        followup_update_by_staff(followup=followup, changes={"status": "cancelled"}, actor=outsider)

    followup.refresh_from_db()
    assert (followup.status, followup.handled_by) == ("scheduled", None)


@pytest.mark.parametrize(
    ("current", "wanted", "message"),
    [
        ("scheduled", "sent",
         "A scheduled follow-up cannot be set to sent by hand; it can be marked cancelled or done."),
        ("sent", "scheduled", "A sent follow-up cannot be set to scheduled by hand; its status is final."),
    ],
)
def test_staff_cannot_fake_a_delivery_or_reopen_a_sent_follow_up(followup, current, wanted, message):
    from journeys.models import FollowUp
    FollowUp.objects.filter(pk=followup.pk).update(status=current)

    with pytest.raises(ApplicationError) as refused:
        followup_update_by_staff(followup=followup, changes={"status": wanted})

    assert refused.value.fields == {"status": [message]}
    assert FollowUp.objects.get(pk=followup.pk).status == current


def test_a_snooze_records_who_put_the_task_off_and_when(followup):
    advisor = make_staff(Advisor.Role.HEAD_OFFICE)

    with time_machine.travel(at(4), tick=False):
        followup_snooze(followup=followup, until=at(6), actor=advisor)

    followup.refresh_from_db()
    assert (followup.due_at, followup.status, followup.handled_by, followup.handled_at) == (
        at(6), "scheduled", advisor, at(4)
    )
    assert followup.status_reason == "Snoozed until 2026-05-06T10:00+00:00."


def test_erasure_cancels_the_scheduled_follow_ups_in_the_name_of_who_erased_the_client(followup):
    manager = make_staff(Advisor.Role.HEAD_OFFICE)
    sent = FollowUp.objects.create(customer=followup.customer, template=followup.template, channel="advisor_task",
                                   due_at=at(2), idempotency_key="test:sent", status="done")

    counts = journeys_personal_data_erase(customer=followup.customer, erased_at=at(7), actor=manager)

    followup.refresh_from_db()
    sent.refresh_from_db()
    assert counts["followups_cancelled"] == 1
    assert (followup.status, followup.status_reason, followup.handled_by, followup.handled_at) == (
        "cancelled", CANCELLED_BY_ERASURE, manager, at(7)
    )
    assert (sent.status, sent.handled_by, sent.handled_at) == ("done", None, None)
