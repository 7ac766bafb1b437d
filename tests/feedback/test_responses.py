"""Recording a client's answer: once, on their timeline with its score, and a promoter moves to advocacy."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import ApplicationError
from customers.services import customer_upsert
from feedback.models import Invitation, Response, Survey
from feedback.services import response_record
from journeys.models import Enrollment, Journey, Transition
from journeys.services import enrollment_enroll
from touchpoints.models import Interaction

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)


@pytest.fixture
def nps() -> Survey:
    return Survey.objects.create(name="After purchase", kind="nps", question="Would you recommend us?")


@pytest.fixture
def client_record():
    return customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer


def test_an_answer_is_recorded_once_and_put_on_the_timeline_with_its_score(nps, client_record):
    response, created = response_record(survey=nps, customer=client_record, score=10, responded_at=AT,
                                        comment="Wonderful", source="ecommerce", external_id="R-1")
    again, created_again = response_record(survey=nps, customer=client_record, score=3, responded_at=AT,
                                           source="ecommerce", external_id="R-1")

    assert (created, created_again, again.pk) == (True, False, response.pk)
    assert (response.score, response.nps_class) == (10, "promoter")
    touchpoint = Interaction.objects.get(customer=client_record)
    assert touchpoint.touchpoint_type.code == "survey_answered"
    assert touchpoint.metadata == {"survey": "After purchase", "survey_kind": "nps", "score": 10,
                                   "nps_class": "promoter"}
    assert Response.objects.count() == 1


def test_a_csat_answer_carries_a_rating_not_an_nps_score(client_record):
    csat = Survey.objects.create(name="Service", kind="csat", question="How was it?")

    response_record(survey=csat, customer=client_record, score=5, responded_at=AT)

    assert Interaction.objects.get(customer=client_record).metadata == {
        "survey": "Service", "survey_kind": "csat", "rating": 5,
    }


def test_an_invitation_is_answered_once(nps, client_record):
    invitation = Invitation.objects.create(survey=nps, customer=client_record, expires_at=AT + dt.timedelta(days=14))

    first, _ = response_record(survey=nps, customer=client_record, score=8, responded_at=AT, invitation=invitation)
    second, created = response_record(survey=nps, customer=client_record, score=9, responded_at=AT,
                                      invitation=invitation)

    invitation.refresh_from_db()
    assert (second.pk, created, invitation.answered_at) == (first.pk, False, AT)


def test_a_score_off_the_scale_or_another_clients_invitation_writes_nothing(nps, client_record):
    other = customer_upsert(source="crm", external_id="C-2", email="b@example.com").customer
    invitation = Invitation.objects.create(survey=nps, customer=other, expires_at=AT + dt.timedelta(days=14))

    with pytest.raises(ApplicationError, match="off the scale"):
        response_record(survey=nps, customer=client_record, score=11, responded_at=AT)
    with pytest.raises(ApplicationError, match="another client"):
        response_record(survey=nps, customer=client_record, score=9, responded_at=AT, invitation=invitation)

    assert not Response.objects.exists()
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(("score", "stage"), [(9, "advocacy"), (8, "post_purchase")])
def test_a_promoter_moves_to_advocacy_by_the_default_rules(nps, client_record, score, stage,
                                                           django_capture_on_commit_callbacks):
    lifecycle = Journey.objects.get(slug="client-lifecycle")
    enrollment_enroll(customer=client_record, journey=lifecycle, stage=lifecycle.stages.get(key="post_purchase"))

    with django_capture_on_commit_callbacks(execute=True):
        response_record(survey=nps, customer=client_record, score=score, responded_at=AT)

    enrollment = Enrollment.objects.get(customer=client_record, journey=lifecycle)
    assert enrollment.stage.key == stage
    moves = Transition.objects.filter(enrollment=enrollment, cause="rule")
    assert [move.rule.name for move in moves] == (["Promoter (NPS 9–10) → Advocacy"] if score >= 9 else [])
