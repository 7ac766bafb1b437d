"""End to end with a real Celery worker on Redis: a store visit recorded through touchpoints reaches the survey
scheduling after its commit, and the worker schedules its invitation once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from customers.services import customer_upsert
from customers.services.consent import consent_record
from feedback.models import Invitation, Survey
from feedback.tasks import invitations_schedule_many_task
from tests.journeys.helpers import wait_for
from touchpoints.models import TouchpointType
from touchpoints.services import interaction_record

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_store_visit_schedules_its_invitation_on_the_worker_and_a_rerun_changes_nothing(celery_worker):
    survey = Survey.objects.create(name="After a visit", kind="nps", question="Would you recommend us?",
                                   trigger_type=TouchpointType.objects.get(code="store_visit"), delay_hours=24)
    camille = customer_upsert(source="crm", external_id="C-1", email="c1@example.com").customer
    consent_record(customer=camille, channel="email", purpose="marketing", is_granted=True,
                   occurred_at=timezone.now(), source="atelier")
    occurred_at = timezone.now().replace(microsecond=0)

    # Committed: the listener queues the scheduling for the worker.
    visit = interaction_record(customer=camille, touchpoint_type="store_visit", occurred_at=occurred_at,
                               source="pos").record
    wait_for(lambda: Invitation.objects.filter(customer=camille).exists())

    invitation = Invitation.objects.get()
    assert (invitation.survey_id, invitation.interaction_id, invitation.status, invitation.due_at) == (
        survey.pk, visit.pk, "scheduled", occurred_at + dt.timedelta(hours=24)
    )
    rerun = invitations_schedule_many_task.apply_async(args=[[visit.pk]], queue=celery_worker)
    assert rerun.get(timeout=30) == {
        "evaluated": 1, "scheduled": 0, "unchanged": 1, "erased": 0, "expired": 0, "no_consent": 0,
        "no_address": 0, "sampled_out": 0, "throttled": 0,
    }
    assert Invitation.objects.count() == 1
