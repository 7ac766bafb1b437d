"""Rules are validated on save (Rule.clean for the row, Rule.clean_relations for the many-to-many choices) and the
database refuses what slips past; hands-off pauses are set and lifted through their services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.services import customer_merge, customer_upsert
from journeys.models import FollowUpTemplate, HandsOff, Journey, Rule, Stage
from journeys.privacy import journeys_personal_data_erase
from journeys.services import hands_off_set
from touchpoints.models import TouchpointType

pytestmark = pytest.mark.django_db


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


def errors_of(rule: Rule) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    return refused.value.message_dict


def test_a_move_to_a_stage_of_another_journey_is_refused(lifecycle):
    other = Journey.objects.create(name="Repairs", slug="repairs")
    received = Stage.objects.create(journey=other, key="received", name="Received", position=1)

    errors = errors_of(Rule(journey=lifecycle, name="Wrong", trigger="interaction", to_stage=received))

    assert errors == {"to_stage": ["The stage belongs to another journey."]}


def test_negative_and_zero_windows_are_refused(lifecycle):
    stage = lifecycle.stages.get(key="loyalty")

    negative = errors_of(Rule(journey=lifecycle, name="Neg", trigger="interaction", to_stage=stage, min_count=2,
                              window_days=-7))
    zero_days = errors_of(Rule(journey=lifecycle, name="Zero", trigger="inactivity", to_stage=stage, days=0))

    assert negative == {"window_days": ["Ensure this value is greater than or equal to 0.",
                                        "Give a number of at least 1."]}
    assert zero_days == {"days": ["Give a number of at least 1."]}


def test_conditions_that_do_not_fit_the_trigger_are_refused(lifecycle):
    stage = lifecycle.stages.get(key="consideration")

    time_with_amount = errors_of(Rule(journey=lifecycle, name="A", trigger="time_in_stage", days=7, to_stage=stage,
                                      min_amount=100, channel="web"))
    interaction_with_days = errors_of(Rule(journey=lifecycle, name="B", trigger="interaction", days=3,
                                           to_stage=stage))
    date_without_date = errors_of(Rule(journey=lifecycle, name="C", trigger="date", days=3, to_stage=stage))
    nothing_to_do = errors_of(Rule(journey=lifecycle, name="D", trigger="interaction"))

    assert time_with_amount == {"min_amount": ["Only a rule on an interaction has this condition."],
                                "channel": ["Only a rule on an interaction has this condition."]}
    assert interaction_with_days == {
        "days": ["A rule on an interaction has no number of days; use the count and window."]
    }
    assert date_without_date == {"profile_date": ["Choose which date in the client's profile the rule watches."]}
    assert nothing_to_do == {"to_stage": ["A rule must move to a stage, schedule a follow-up, or both."]}


def test_relations_are_checked_against_the_rule(lifecycle):
    other = Journey.objects.create(name="Repairs", slug="repairs")
    received = Stage.objects.create(journey=other, key="received", name="Received", position=1)
    purchase_stage = lifecycle.stages.get(key="purchase")
    rule = Rule(journey=lifecycle, name="R", trigger="time_in_stage", days=7, to_stage=purchase_stage)

    with pytest.raises(ValidationError) as foreign:
        rule.clean_relations(touchpoint_types=[], from_stages=[received], boutiques=[])
    with pytest.raises(ValidationError) as same_stage:
        rule.clean_relations(touchpoint_types=[], from_stages=[purchase_stage], boutiques=[])
    with pytest.raises(ValidationError) as no_stage:
        rule.clean_relations(touchpoint_types=TouchpointType.objects.filter(code="purchase"), from_stages=[],
                             boutiques=[])

    assert foreign.value.message_dict == {
        "from_stages": ["These stages belong to another journey: Repairs · Received."]
    }
    assert same_stage.value.message_dict == {
        "from_stages": ["A time-based rule cannot move clients to a stage they are already in."]
    }
    assert no_stage.value.message_dict == {
        "touchpoint_types": ["This trigger does not look at touchpoint types."],
        "from_stages": ["Choose the stage(s) whose time the rule counts."],
    }


def test_the_database_refuses_a_rule_with_a_window_but_no_count(lifecycle):
    template = FollowUpTemplate.objects.create(name="T", channel="email")

    with pytest.raises(IntegrityError), transaction.atomic():
        Rule.objects.create(journey=lifecycle, name="Half", trigger="interaction", window_days=30,
                            followup_template=template)

    assert Rule.objects.filter(name="Half").count() == 0


def test_a_new_hands_off_lifts_the_open_one_and_an_end_in_the_past_is_refused():
    client = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    first = hands_off_set(customer=client, actor=None, reason="Travelling")

    second = hands_off_set(customer=client, actor=None, until=timezone.now() + dt.timedelta(days=30))
    with pytest.raises(ApplicationError) as refused:
        hands_off_set(customer=client, actor=None, until=timezone.now() - dt.timedelta(days=1))

    first.refresh_from_db()
    assert (first.lifted_at is not None, second.lifted_at) == (True, None)
    assert refused.value.message == "The end of the pause must be in the future."
    assert HandsOff.objects.filter(customer=client).count() == 2


def test_a_merge_keeps_one_open_hands_off_and_erasure_clears_the_reasons():
    survivor = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    duplicate = customer_upsert(source="crm", external_id="C-2", email="b@example.com").customer
    hands_off_set(customer=survivor, actor=None, reason="Bereavement")
    hands_off_set(customer=duplicate, actor=None, reason="Asked for no messages")

    customer_merge(surviving=survivor, merged=duplicate, actor=None, reason="Same person")
    counts = journeys_personal_data_erase(customer=survivor, erased_at=timezone.now())

    assert list(HandsOff.objects.filter(customer=survivor).order_by("pk").values_list("reason", "lifted_at")) == [
        ("", None), ("", HandsOff.objects.get(customer=survivor, lifted_at__isnull=False).lifted_at)
    ]
    assert counts["hands_off_reasons"] == 2
