"""Scheduling a follow-up: once per key, due after the template's delay, with a variant fixed per client."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from core.errors import ApplicationError
from customers.services import customer_upsert
from journeys.models import FollowUp, FollowUpTemplate, FollowUpVariant
from journeys.services import followup_schedule, variant_for
from tests.factories import AdvisorFactory

pytestmark = pytest.mark.django_db

TRIGGER = dt.datetime(2026, 5, 4, 15, 30, tzinfo=dt.UTC)


@pytest.fixture
def thank_you() -> FollowUpTemplate:
    template = FollowUpTemplate.objects.create(name="Thank you (test)", channel="email", delay_hours=48)
    FollowUpVariant.objects.create(template=template, label="A", weight=3, subject="Merci", body="Dear {{ name }}")
    FollowUpVariant.objects.create(template=template, label="B", weight=1, subject="Thank you", body="Hello")
    return template


def test_a_follow_up_is_due_after_the_template_delay_and_goes_to_the_client_advisor(thank_you):
    advisor = AdvisorFactory()
    customer = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    customer.advisor = advisor
    customer.save(update_fields=["advisor"])

    followup, created = followup_schedule(customer=customer, template=thank_you, key="test:1", trigger_at=TRIGGER)

    assert created is True
    assert (followup.status, followup.channel, followup.advisor_id) == ("scheduled", "email", advisor.pk)
    assert followup.due_at == dt.datetime(2026, 5, 6, 15, 30, tzinfo=dt.UTC)
    assert followup.variant == variant_for(template=thank_you, customer_id=customer.pk)


def test_the_same_key_twice_schedules_one_follow_up(thank_you):
    customer = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    first, _ = followup_schedule(customer=customer, template=thank_you, key="test:1", trigger_at=TRIGGER)

    again, created = followup_schedule(
        customer=customer, template=thank_you, key="test:1", trigger_at=TRIGGER + dt.timedelta(days=3)
    )

    assert (again.pk, created) == (first.pk, False)
    assert FollowUp.objects.count() == 1
    assert again.due_at == first.due_at


def test_variants_are_fixed_per_client_and_follow_the_weights(thank_you):
    picks = Counter(variant_for(template=thank_you, customer_id=customer_id).label for customer_id in range(4000))

    assert all(
        variant_for(template=thank_you, customer_id=customer_id).label == variant_for(
            template=thank_you, customer_id=customer_id
        ).label
        for customer_id in range(50)
    )
    # Weights 3:1 → about 3,000 A and 1,000 B; ±150 is over four standard deviations.
    assert abs(picks["A"] - 3000) < 150
    assert picks["A"] + picks["B"] == 4000


def test_an_inactive_template_or_an_empty_key_is_refused_and_nothing_is_scheduled(thank_you):
    customer = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    with pytest.raises(ApplicationError, match="key"):
        followup_schedule(customer=customer, template=thank_you, key="", trigger_at=TRIGGER)
    thank_you.is_active = False
    thank_you.save(update_fields=["is_active"])
    with pytest.raises(ApplicationError, match="not active"):
        followup_schedule(customer=customer, template=thank_you, key="test:1", trigger_at=TRIGGER)
    assert not FollowUp.objects.exists()


def test_many_follow_ups_are_scheduled_like_one_by_one_in_three_statements(thank_you, django_assert_num_queries):
    from journeys.services import FollowUpRequest, followups_schedule_many

    customers = [
        customer_upsert(source="crm", external_id=f"C-{n}", email=f"c{n}@example.com").customer for n in range(5)
    ]
    followup_schedule(customer=customers[0], template=thank_you, key="rule:1:interaction:0", trigger_at=TRIGGER)
    requests = [
        FollowUpRequest(customer=customer, template=thank_you, key=f"rule:1:interaction:{n}", trigger_at=TRIGGER)
        for n, customer in enumerate(customers)
    ] + [FollowUpRequest(customer=customers[1], template=thank_you, key="rule:1:interaction:1", trigger_at=TRIGGER)]

    with django_assert_num_queries(5):  # savepoint, keys taken, variants, insert, release
        scheduled = followups_schedule_many(requests)

    assert scheduled == 4
    rows = {f.customer_id: f for f in FollowUp.objects.filter(template=thank_you)}
    assert len(rows) == 5
    for customer in customers:
        assert rows[customer.pk].variant == variant_for(template=thank_you, customer_id=customer.pk)
        assert rows[customer.pk].due_at == dt.datetime(2026, 5, 6, 15, 30, tzinfo=dt.UTC)
    assert followups_schedule_many(requests) == 0
