"""Listeners registered by the apps above touchpoints hear of recorded interactions once, after the commit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from customers.services import customer_upsert
from touchpoints import events
from touchpoints.services import interaction_record
from touchpoints.services.bulk import interactions_record_bulk

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)


@pytest.fixture
def heard(monkeypatch):
    calls: list[list[int]] = []
    monkeypatch.setattr(events, "_listeners", [calls.append])
    return calls


@pytest.fixture
def client_record():
    return customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer


def test_one_commit_tells_the_listeners_once_with_every_interaction_it_recorded(
    heard, client_record, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                   source="pos", external_id="V-1").record
        second = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                    source="pos", external_id="V-2").record
        interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                           source="pos", external_id="V-1")  # a replay: nothing new to tell

    assert heard == [[first.pk, second.pk]]


def test_a_bulk_write_is_one_call_with_the_created_interactions_only(
    heard, client_record, django_capture_on_commit_callbacks
):
    def item(touchpoint_type: str, external_id: str = "") -> dict:
        return {"customer": str(client_record.public_id), "touchpoint_type": touchpoint_type,
                "occurred_at": AT.isoformat(), "source": "pos", "external_id": external_id}

    items = [item("appointment", "V-1"), item("appointment", "V-2"), item("appointment", "V-2"), item("no-such-type")]

    with django_capture_on_commit_callbacks(execute=True):
        results = interactions_record_bulk(items=items)

    assert [result.status for result in results] == ["created", "created", "unchanged", "invalid"]
    assert heard == [[results[0].record_id, results[1].record_id]]


def test_rolled_back_work_tells_nobody_and_the_next_transaction_is_heard(
    heard, client_record, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        def record_then_fail():
            with transaction.atomic():
                interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                   source="pos", external_id="V-1")
                raise RuntimeError("the caller failed")

        with pytest.raises(RuntimeError):
            record_then_fail()
        kept = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                  source="pos", external_id="V-2").record

    assert heard == [[kept.pk]]


def test_a_failing_listener_does_not_fail_the_recording(monkeypatch, client_record, django_capture_on_commit_callbacks):
    def broken(ids):
        raise ConnectionError("broker down")

    calls: list[list[int]] = []
    monkeypatch.setattr(events, "_listeners", [broken, calls.append])
    with django_capture_on_commit_callbacks(execute=True):
        recorded = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                      source="pos", external_id="V-1").record

    assert calls == [[recorded.pk]]


def test_interactions_recorded_with_the_listeners_paused_tell_nobody(
    heard, client_record, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic(), events.listeners_paused():
            interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT, source="pos",
                               external_id="V-1")
        after = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                   source="pos", external_id="V-2").record

    assert heard == [[after.pk]]


def record_in_a_failing_savepoint(customer, external_id: str) -> None:
    with transaction.atomic():
        interaction_record(customer=customer, touchpoint_type="appointment", occurred_at=AT, source="pos",
                           external_id=external_id)
        raise RuntimeError("this item failed")


def test_a_rolled_back_savepoint_takes_its_interactions_out_of_the_one_call(
    heard, client_record, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        kept = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                  source="pos", external_id="V-1").record
        with pytest.raises(RuntimeError):
            record_in_a_failing_savepoint(client_record, "V-2")
        after = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                   source="pos", external_id="V-3").record

    assert heard == [[kept.pk, after.pk]]


def test_a_savepoint_that_recorded_first_and_rolled_back_leaves_the_rest_heard(
    heard, client_record, django_capture_on_commit_callbacks
):
    # The first callback of the transaction goes with the savepoint; the later one still delivers.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(RuntimeError):
            record_in_a_failing_savepoint(client_record, "V-1")
        kept = interaction_record(customer=client_record, touchpoint_type="appointment", occurred_at=AT,
                                  source="pos", external_id="V-2").record

    assert heard == [[kept.pk]]
