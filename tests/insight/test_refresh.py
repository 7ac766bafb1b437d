"""The rollups follow the commits that change them (core.client_changes), never rolled-back work, and
manage.py insight_rebuild rebuilds them."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from insight.models import StageStay, ValueFact
from journeys.models import Enrollment, Transition
from journeys.services import enrollment_move
from tests.insight.helpers import START, buy

pytestmark = pytest.mark.django_db


def test_a_stage_move_and_an_order_rewrite_the_clients_rows_after_the_commit(house, django_capture_on_commit_callbacks):
    client = house.clients["a2"]  # dropped out of stage 1 after its 10 days
    enrollment = Enrollment.objects.get(customer=client)

    with django_capture_on_commit_callbacks(execute=True):
        enrollment_move(enrollment=enrollment, to_stage=house.stages[2], cause=Transition.Cause.MANUAL,
                        occurred_at=START + dt.timedelta(days=40))
        buy(client, START + dt.timedelta(days=40), "50.00")

    # (The purchase also runs the journey rules, which may enroll the client in the house's default journey.)
    stays = list(StageStay.objects.filter(customer_id=client.pk, journey_id=house.journey.pk).order_by("entered_at"))
    assert [(s.stage_id, s.to_stage_id, s.moved_on) for s in stays] == [
        (house.stages[0].pk, house.stages[2].pk, False), (house.stages[2].pk, None, False),
    ]
    assert ValueFact.objects.filter(customer_id=client.pk).count() == 2


def test_rolled_back_work_queues_no_refresh(house, django_capture_on_commit_callbacks):
    client = house.clients["a2"]
    before = set(StageStay.objects.values_list("pk", flat=True))

    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),  # noqa: PT012
          transaction.atomic()):
        buy(client, START + dt.timedelta(days=41), "70.00")
        raise RuntimeError("the request failed after recording")

    assert callbacks == []
    assert set(StageStay.objects.values_list("pk", flat=True)) == before
    assert ValueFact.objects.filter(customer_id=client.pk).count() == 1


def test_insight_rebuild_rebuilds_everything_or_the_clients_touched_since_a_day(house):
    StageStay.objects.all().delete()
    output = StringIO()

    call_command("insight_rebuild", stdout=output)

    assert output.getvalue().strip() == "stays=7 orders=4 value_days=4"
    assert StageStay.objects.count() == Transition.objects.count() == 7
    since = StringIO()
    call_command("insight_rebuild", "--since", "2020-01-01", stdout=since)
    assert since.getvalue().startswith("clients=4 stays=7 orders=4 ")


def test_insight_rebuild_refuses_a_since_that_is_no_day(house):
    with pytest.raises(CommandError, match="--since '2026-02-30' is not a date; give YYYY-MM-DD."):
        call_command("insight_rebuild", "--since", "2026-02-30")
