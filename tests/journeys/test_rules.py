"""The rule engine on new interactions: the default Client lifecycle rules, the conditions, hands-off, the grace
period after a manual move, idempotency, and what recording an interaction queues."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from customers.models import Advisor, Customer, Segment, SourceSystem
from customers.services import customer_upsert
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, Journey, Rule, Stage, Transition
from journeys.services import (
    enrollment_enroll,
    enrollment_place,
    hands_off_lift,
    hands_off_set,
    rules_apply_to_interactions,
)
from tests.factories import BoutiqueFactory, PersonaFactory, make_staff
from touchpoints.models import Interaction, TouchpointType
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 20, 10, tzinfo=dt.UTC)


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


@pytest.fixture
def camille() -> Customer:
    return customer_upsert(source="crm", external_id="C-1", email="camille@example.com", first_name="Camille").customer


def buy(customer: Customer, number: int, placed_at: dt.datetime, total: str = "1200.00") -> Interaction:
    """Record an order (no commit in these tests: the rules are applied by the test) and return its purchase."""
    order = order_record(
        source=SourceSystem.POS, external_id=f"O-{number}", customer=customer, placed_at=placed_at, currency="EUR",
        total=total, lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price=total)],
    ).record
    return order.interactions.get()


def record(customer: Customer, code: str, occurred_at: dt.datetime, **values) -> Interaction:
    return interaction_record(
        customer=customer, touchpoint_type=code, occurred_at=occurred_at, source=SourceSystem.ATELIER, **values
    ).record


def stage_of(customer: Customer, journey: Journey) -> str | None:
    enrollment = Enrollment.objects.filter(customer=customer, journey=journey).select_related("stage").first()
    return enrollment.stage.key if enrollment else None


def rule_named(prefix: str) -> Rule:
    return Rule.objects.get(name__startswith=prefix)


def test_a_first_purchase_enrolls_the_client_in_purchase_and_schedules_the_thank_you_two_days_later(
    lifecycle, camille
):
    purchase = buy(camille, 1, days_ago(0))

    outcome = rules_apply_to_interactions(interaction_ids=[purchase.pk], now=NOW)

    first_purchase = rule_named("First purchase")
    transition = Transition.objects.get(enrollment__customer=camille)
    assert (transition.from_stage, transition.to_stage.key, transition.cause, transition.rule, transition.interaction) \
        == (None, "purchase", "rule", first_purchase, purchase)
    followup = FollowUp.objects.get(customer=camille)
    assert (followup.template.name, followup.channel, followup.due_at, followup.rule, followup.transition) == (
        "Thank you for your first purchase", "email", NOW + dt.timedelta(hours=48), first_purchase, transition
    )
    assert followup.idempotency_key == f"rule:{first_purchase.pk}:interaction:{purchase.pk}"
    assert (outcome.enrolled, outcome.moved, outcome.followups, outcome.fired) == (1, 0, 1, 1)


def test_a_second_purchase_within_a_year_moves_the_client_to_loyalty_without_a_second_thank_you(lifecycle, camille):
    first = buy(camille, 1, days_ago(200))
    rules_apply_to_interactions(interaction_ids=[first.pk], now=days_ago(200))
    second = buy(camille, 2, days_ago(0))

    rules_apply_to_interactions(interaction_ids=[second.pk], now=NOW)

    assert stage_of(camille, lifecycle) == "loyalty"
    moves = list(Transition.objects.filter(enrollment__customer=camille).order_by("occurred_at")
                 .values_list("to_stage__key", "rule__name", "interaction"))
    assert moves == [
        ("purchase", "First purchase → Purchase, with a thank-you", first.pk),
        ("loyalty", "Second purchase within a year → Loyalty", second.pk),
    ]
    assert FollowUp.objects.filter(customer=camille).count() == 1


def test_a_second_purchase_more_than_a_year_later_is_no_loyalty(lifecycle, camille):
    first = buy(camille, 1, days_ago(400))
    rules_apply_to_interactions(interaction_ids=[first.pk], now=days_ago(400))
    second = buy(camille, 2, days_ago(0))

    outcome = rules_apply_to_interactions(interaction_ids=[second.pk], now=NOW)

    assert stage_of(camille, lifecycle) == "purchase"
    assert (outcome.evaluated, outcome.fired) == (1, 0)
    assert Transition.objects.filter(enrollment__customer=camille).count() == 1


def test_running_the_rules_again_for_the_same_interactions_changes_nothing(lifecycle, camille):
    first, second = buy(camille, 1, days_ago(5)), buy(camille, 2, days_ago(0))
    rules_apply_to_interactions(interaction_ids=[first.pk, second.pk], now=NOW)
    before = (Transition.objects.count(), FollowUp.objects.count(), stage_of(camille, lifecycle))

    again = rules_apply_to_interactions(interaction_ids=[second.pk, first.pk], now=NOW + dt.timedelta(hours=1))

    assert before == (2, 1, "loyalty")
    assert (Transition.objects.count(), FollowUp.objects.count(), stage_of(camille, lifecycle)) == before
    assert (again.enrolled, again.moved, again.followups) == (0, 0, 0)


def test_a_client_on_hands_off_is_left_alone_until_it_is_lifted(lifecycle, camille):
    advisor = make_staff(Advisor.Role.HEAD_OFFICE)
    hands_off_set(customer=camille, actor=advisor, reason="Bereavement")
    first = buy(camille, 1, timezone.now())

    paused = rules_apply_to_interactions(interaction_ids=[first.pk])
    hands_off_lift(customer=camille, actor=advisor)
    resumed = rules_apply_to_interactions(interaction_ids=[first.pk])

    assert (paused.skipped_hands_off, paused.fired) == (1, 0)
    assert (resumed.skipped_hands_off, resumed.enrolled) == (0, 1)
    assert stage_of(camille, lifecycle) == "purchase"


def test_a_hands_off_past_its_end_no_longer_holds(lifecycle, camille):
    hands_off_set(customer=camille, actor=None, until=timezone.now() + dt.timedelta(days=3))
    first = buy(camille, 1, timezone.now())

    during = rules_apply_to_interactions(interaction_ids=[first.pk], now=timezone.now() + dt.timedelta(days=2))
    after = rules_apply_to_interactions(interaction_ids=[first.pk], now=timezone.now() + dt.timedelta(days=4))

    assert (during.skipped_hands_off, after.skipped_hands_off, after.enrolled) == (1, 0, 1)


def test_a_manual_move_is_not_undone_by_a_rule_within_the_grace_period(lifecycle, camille, settings):
    settings.JOURNEY_MANUAL_GRACE_DAYS = 14
    first = buy(camille, 1, days_ago(30))
    rules_apply_to_interactions(interaction_ids=[first.pk], now=days_ago(30))
    enrollment_place(customer=camille, to_stage=lifecycle.stages.get(key="consideration"),
                     actor=make_staff(Advisor.Role.HEAD_OFFICE), note="Wants to think about a second bag")
    second = buy(camille, 2, timezone.now())

    held = rules_apply_to_interactions(interaction_ids=[second.pk], now=timezone.now())
    later = rules_apply_to_interactions(interaction_ids=[second.pk], now=timezone.now() + dt.timedelta(days=15))

    assert (held.skipped_grace, held.moved) == (1, 0)
    assert (later.skipped_grace, later.moved) == (0, 1)
    assert stage_of(camille, lifecycle) == "purchase"  # consideration + purchase → the first-purchase rule's stage


def test_a_promoter_survey_moves_to_advocacy_and_a_passive_one_does_not(lifecycle, camille):
    enrollment_enroll(customer=camille, journey=lifecycle, stage=lifecycle.stages.get(key="post_purchase"))
    passive = record(camille, "survey_answered", days_ago(2), metadata={"score": 8})
    promoter = record(camille, "survey_answered", days_ago(1), metadata={"score": 9, "nps_class": "promoter"})

    rules_apply_to_interactions(interaction_ids=[passive.pk], now=NOW)
    after_passive = stage_of(camille, lifecycle)
    rules_apply_to_interactions(interaction_ids=[promoter.pk], now=NOW)

    assert (after_passive, stage_of(camille, lifecycle)) == ("post_purchase", "advocacy")
    assert Transition.objects.get(rule__name__startswith="Promoter").interaction == promoter


def test_an_abandoned_cart_moves_a_new_client_to_consideration_and_asks_an_advisor_only_for_top_tiers(lifecycle):
    gold = customer_upsert(source="crm", external_id="G", email="gold@example.com").customer
    vic = customer_upsert(source="crm", external_id="V", email="vic@example.com").customer
    Customer.objects.filter(pk=gold.pk).update(value_tier="gold")
    Customer.objects.filter(pk=vic.pk).update(value_tier="vic")
    carts = [record(gold, "cart_abandoned", days_ago(0)), record(vic, "cart_abandoned", days_ago(0))]

    rules_apply_to_interactions(interaction_ids=[cart.pk for cart in carts], now=NOW)

    assert (stage_of(gold, lifecycle), stage_of(vic, lifecycle)) == ("consideration", "consideration")
    assert list(FollowUp.objects.values_list("customer", "template__name", "channel")) == [
        (vic.pk, "Cart abandoned: call the client", "advisor_task")
    ]


def test_an_abandoned_cart_does_not_send_a_loyal_client_back_to_consideration(lifecycle, camille):
    enrollment_enroll(customer=camille, journey=lifecycle, stage=lifecycle.stages.get(key="loyalty"))

    rules_apply_to_interactions(interaction_ids=[record(camille, "cart_abandoned", days_ago(0)).pk], now=NOW)

    assert stage_of(camille, lifecycle) == "loyalty"


def test_a_rule_with_amount_channel_boutique_and_count_conditions_fires_only_when_all_hold(
    lifecycle, camille, settings
):
    settings.JOURNEY_FOLLOWUP_MAX_AGE_DAYS = 60  # the interactions go back 40 days
    Rule.objects.filter(journey=lifecycle).update(is_active=False)
    paris, london = BoutiqueFactory(code="PAR"), BoutiqueFactory(code="LON")
    template = FollowUpTemplate.objects.create(name="Big spender call", channel="advisor_task")
    rule = Rule.objects.create(
        journey=lifecycle, name="Two big boutique visits in a month", trigger="interaction", min_amount="500",
        channel="boutique", min_count=2, window_days=30, followup_template=template,
    )
    rule.touchpoint_types.set(TouchpointType.objects.filter(code="appointment"))
    rule.boutiques.set([paris])
    enrollment_enroll(customer=camille, journey=lifecycle)
    values = {"amount": "800.00", "currency": "EUR", "channel": "boutique", "boutique": paris}
    first = record(camille, "appointment", days_ago(40), **values)
    too_small = record(camille, "appointment", days_ago(5), **(values | {"amount": "100.00"}))
    elsewhere = record(camille, "appointment", days_ago(4), **(values | {"boutique": london}))
    online = record(camille, "appointment", days_ago(3), **(values | {"channel": "web"}))
    second = record(camille, "appointment", days_ago(35), **values)  # 5 days after `first`: two within 30 days
    alone = record(camille, "appointment", days_ago(1), **values)  # 3 in the window, but first two fail other tests

    outcome = rules_apply_to_interactions(
        interaction_ids=[i.pk for i in (first, too_small, elsewhere, online, second, alone)], now=NOW
    )

    fired_on = sorted(int(key.rsplit(":", 1)[1]) for key in FollowUp.objects.values_list("idempotency_key", flat=True))
    assert fired_on == sorted([second.pk, alone.pk])
    assert (outcome.evaluated, outcome.fired) == (6, 2)


def test_a_client_who_left_the_journey_is_not_brought_back(lifecycle, camille):
    enrollment, _ = enrollment_enroll(customer=camille, journey=lifecycle, occurred_at=days_ago(10))
    Enrollment.objects.filter(pk=enrollment.pk).update(exited_at=days_ago(5))

    outcome = rules_apply_to_interactions(interaction_ids=[buy(camille, 1, days_ago(0)).pk], now=NOW)

    assert (outcome.fired, stage_of(camille, lifecycle)) == (0, "awareness")


@transaction.atomic
def record_then_fail(customer: Customer) -> None:
    record(customer, "cart_abandoned", timezone.now())
    raise RuntimeError("the request failed after recording")


def test_recording_an_interaction_queues_the_rules_once_after_commit_and_never_for_rolled_back_work(
    lifecycle, camille, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as committed:
        buy(camille, 1, timezone.now())
    with django_capture_on_commit_callbacks() as rolled_back, pytest.raises(RuntimeError):
        record_then_fail(camille)
    with django_capture_on_commit_callbacks() as replayed:
        record_again = interaction_record(
            customer=camille, touchpoint_type="purchase", occurred_at=timezone.now(), source=SourceSystem.POS,
            external_id="order:O-1",
        )

    # One flush of the new interactions for the transaction, which queued the task (run eagerly here). Insight's
    # clients_changed (core.client_changes) adds callbacks of its own for the order and the stage move.
    assert [callback.__module__ for callback in committed].count("touchpoints.events") == 1
    assert stage_of(camille, lifecycle) == "purchase"
    assert FollowUp.objects.filter(customer=camille).count() == 1
    assert (rolled_back, record_again.created, replayed) == ([], False, [])


def test_a_late_interaction_moves_the_client_but_schedules_no_follow_up(lifecycle, camille, settings):
    settings.JOURNEY_FOLLOWUP_MAX_AGE_DAYS = 7
    late = buy(camille, 1, days_ago(8))

    outcome = rules_apply_to_interactions(interaction_ids=[late.pk], now=NOW)

    assert (outcome.enrolled, outcome.followups, outcome.skipped_late_followups) == (1, 0, 1)
    assert (stage_of(camille, lifecycle), FollowUp.objects.count()) == ("purchase", 0)


def test_an_interaction_already_acted_on_by_a_rule_is_not_acted_on_again_after_the_client_moved(
    lifecycle, camille, settings
):
    settings.JOURNEY_MANUAL_GRACE_DAYS = 0
    first = buy(camille, 1, timezone.now())
    rules_apply_to_interactions(interaction_ids=[first.pk])
    enrollment_place(customer=camille, to_stage=lifecycle.stages.get(key="consideration"),
                     actor=make_staff(Advisor.Role.HEAD_OFFICE), note="Returned the bag")

    again = rules_apply_to_interactions(interaction_ids=[first.pk])

    assert (again.evaluated, again.fired, again.enrolled, again.moved, again.followups) == (1, 0, 0, 0, 0)
    assert stage_of(camille, lifecycle) == "consideration"


def test_a_journey_for_one_persona_enrolls_only_clients_of_that_persona(camille):
    collectors = PersonaFactory(slug="collectors")
    journey = Journey.objects.create(name="Collectors", slug="collectors-journey", persona=collectors)
    stage = Stage.objects.create(journey=journey, key="buyer", name="Buyer", position=1)
    rule = Rule.objects.create(journey=journey, name="Buyers", trigger="interaction", to_stage=stage,
                               enrolls_new_clients=True)
    rule.touchpoint_types.set(TouchpointType.objects.filter(code="purchase"))
    collector = customer_upsert(source="crm", external_id="C-2", email="collector@example.com").customer
    Customer.objects.filter(pk=collector.pk).update(persona=collectors)
    purchases = [buy(camille, 1, days_ago(0)), buy(collector, 2, days_ago(0))]

    rules_apply_to_interactions(interaction_ids=[purchase.pk for purchase in purchases], now=NOW)

    assert list(Enrollment.objects.filter(journey=journey).values_list("customer", flat=True)) == [collector.pk]
    assert stage_of(camille, Journey.objects.get(slug="client-lifecycle")) == "purchase"


def _tokyo_journey(definition: dict | None = None):
    """A journey for the Tokyo boutique's clients (a segment), whose rule moves a buyer to `buyer`."""
    tokyo = BoutiqueFactory(code="TYO", timezone="Asia/Tokyo")
    segment = Segment.objects.create(name="Tokyo clients", slug="tokyo",
                                     definition={"boutique_id": tokyo.pk} if definition is None else definition)
    journey = Journey.objects.create(name="Tokyo", slug="tokyo-journey", segment=segment)
    first = Stage.objects.create(journey=journey, key="first", name="First", position=1)
    buyer = Stage.objects.create(journey=journey, key="buyer", name="Buyer", position=2)
    rule = Rule.objects.create(journey=journey, name="Buyers", trigger="interaction", to_stage=buyer,
                               enrolls_new_clients=True)
    rule.touchpoint_types.set(TouchpointType.objects.filter(code="purchase"))
    return tokyo, journey, first


def test_a_journey_for_a_segment_acts_only_on_clients_in_the_segment(camille):
    tokyo, journey, first = _tokyo_journey()
    paris = BoutiqueFactory(code="PAR")
    new_in, enrolled_in, enrolled_out = (
        customer_upsert(source="crm", external_id=key, email=f"{key}@example.com", home_boutique=boutique).customer
        for key, boutique in (("T-1", tokyo), ("T-2", tokyo), ("P-1", paris))
    )
    for customer in (enrolled_in, enrolled_out):
        enrollment_enroll(customer=customer, journey=journey, stage=first, occurred_at=days_ago(30))
    purchases = [buy(customer, number, days_ago(0))
                 for number, customer in enumerate((camille, new_in, enrolled_in, enrolled_out), start=1)]

    rules_apply_to_interactions(interaction_ids=[purchase.pk for purchase in purchases], now=NOW)

    assert sorted(Enrollment.objects.filter(journey=journey).values_list("customer", "stage__key")) == sorted([
        (new_in.pk, "buyer"), (enrolled_in.pk, "buyer"), (enrolled_out.pk, "first"),
    ])
    assert stage_of(camille, Journey.objects.get(slug="client-lifecycle")) == "purchase"  # other journeys as before


@pytest.mark.parametrize("definition", [{"boutique_id": 999999}, {"value_tier": "emperor"}, {"colour": "red"}])
def test_a_segment_that_does_not_filter_cleanly_holds_no_client_rather_than_every_client(camille, definition):
    tokyo, journey, _first = _tokyo_journey(definition)
    purchase = buy(camille, 1, days_ago(0))

    rules_apply_to_interactions(interaction_ids=[purchase.pk], now=NOW)

    assert Enrollment.objects.filter(journey=journey).count() == 0
