"""The time-based rules run from beat: time in stage, inactivity, dates coming up in the client's profile."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from customers.models import Advisor, Customer, Segment, SourceSystem
from customers.services import customer_upsert
from customers.services.consent import consent_record
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, Journey, Rule, Stage, Transition
from journeys.services import enrollment_enroll, enrollment_place, hands_off_set, rules_apply_time_based
from journeys.tasks import rules_apply_time_based_task
from tests.factories import AdvisorFactory, BoutiqueFactory, make_staff
from touchpoints.services import interaction_record

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 1, 6, tzinfo=dt.UTC)


def days_ago(days: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.fixture(autouse=True)
def clock():
    """Beat runs at NOW: services that stamp the present (a manual move, a pause) see the same clock."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


def client(number: int, **values) -> Customer:
    return customer_upsert(source="crm", external_id=f"C-{number}", email=f"c{number}@example.com", **values).customer


def place(customer: Customer, journey: Journey, key: str, since: dt.datetime):
    enrollment, _ = enrollment_enroll(customer=customer, journey=journey, stage=journey.stages.get(key=key),
                                      occurred_at=since)
    return enrollment


def stage_of(customer: Customer) -> str:
    return Enrollment.objects.get(customer=customer).stage.key


def test_seven_days_in_purchase_moves_to_post_purchase_and_six_days_does_not(lifecycle):
    week, six_days = client(1), client(2)
    place(week, lifecycle, "purchase", days_ago(7))
    place(six_days, lifecycle, "purchase", days_ago(6))

    outcomes = rules_apply_time_based(now=NOW)

    rule = Rule.objects.get(name__startswith="Seven days")
    assert (stage_of(week), stage_of(six_days)) == ("post_purchase", "purchase")
    move = Transition.objects.get(enrollment__customer=week, cause="rule")
    assert (move.from_stage.key, move.to_stage.key, move.rule, move.occurred_at) == (
        "purchase", "post_purchase", rule, NOW
    )
    assert (outcomes[rule.pk].moved, outcomes[rule.pk].followups) == (1, 0)


def test_a_year_without_purchase_sends_the_client_back_to_consideration_with_one_win_back_email(lifecycle):
    lapsed, recent = client(1), client(2)
    for number, (customer, bought) in enumerate([(lapsed, days_ago(400)), (recent, days_ago(100))]):
        interaction_record(customer=customer, touchpoint_type="purchase", occurred_at=bought,
                           source=SourceSystem.POS, external_id=f"P-{number}")
        place(customer, lifecycle, "loyalty", bought)

    first = rules_apply_time_based(now=NOW)
    second = rules_apply_time_based(now=NOW + dt.timedelta(hours=6))

    rule = Rule.objects.get(name__startswith="No purchase for a year")
    assert (stage_of(lapsed), stage_of(recent)) == ("consideration", "loyalty")
    followup = FollowUp.objects.get()
    assert (followup.customer, followup.template.name, followup.rule, followup.due_at) == (
        lapsed, "We miss you", rule, NOW
    )
    assert followup.transition == Transition.objects.get(enrollment__customer=lapsed, rule=rule)
    assert followup.idempotency_key == f"rule:{rule.pk}:customer:{lapsed.pk}:{days_ago(400):%Y-%m-%d}"
    assert (first[rule.pk].moved, first[rule.pk].followups, second[rule.pk].fired) == (1, 1, 0)


def test_time_rules_leave_clients_on_hands_off_and_clients_moved_by_hand_in_the_grace_period(lifecycle, settings):
    settings.JOURNEY_MANUAL_GRACE_DAYS = 14
    paused, placed, free = client(1), client(2), client(3)
    for customer in (paused, placed, free):
        place(customer, lifecycle, "purchase", days_ago(10))
    hands_off_set(customer=paused, actor=None)
    # Staff put the client in purchase by hand, ten days ago; so was the free client, fifteen days ago.
    with time_machine.travel(days_ago(10), tick=False):
        enrollment_place(customer=placed, to_stage=lifecycle.stages.get(key="consideration"),
                         actor=make_staff(Advisor.Role.HEAD_OFFICE), note="Asked for time")
    with time_machine.travel(days_ago(15), tick=False):
        free_enrollment = Enrollment.objects.get(customer=free)
        Enrollment.objects.filter(pk=free_enrollment.pk).update(stage_entered_at=days_ago(20))
        enrollment_place(customer=free, to_stage=lifecycle.stages.get(key="consideration"),
                         actor=make_staff(Advisor.Role.HEAD_OFFICE), note="Asked for time")
    Enrollment.objects.filter(customer__in=[placed, free]).update(stage=lifecycle.stages.get(key="purchase"))

    outcomes = rules_apply_time_based(now=NOW)

    assert [stage_of(customer) for customer in (paused, placed, free)] == ["purchase", "purchase", "post_purchase"]
    assert outcomes[Rule.objects.get(name__startswith="Seven days").pk].moved == 1


def test_a_birthday_coming_up_schedules_one_greeting_per_year_and_leaves_later_birthdays(lifecycle):
    Rule.objects.filter(journey=lifecycle).update(is_active=False)
    template = FollowUpTemplate.objects.create(name="Birthday", channel="advisor_task")
    rule = Rule.objects.create(journey=lifecycle, name="Birthday in a week", trigger="date", profile_date="birthday",
                               days=7, followup_template=template)
    soon = client(1, birth_date=dt.date(1980, 3, 5))
    later = client(2, birth_date=dt.date(1980, 3, 20))
    leap = client(3, birth_date=dt.date(1984, 2, 29))  # 2027 has no 29 February: the 28th, which has passed
    not_enrolled = client(4, birth_date=dt.date(1980, 3, 3))
    for customer in (soon, later, leap):
        place(customer, lifecycle, "loyalty", days_ago(30))

    first = rules_apply_time_based(now=NOW)
    again = rules_apply_time_based(now=NOW + dt.timedelta(days=1))

    assert list(FollowUp.objects.values_list("customer", "idempotency_key")) == [
        (soon.pk, f"rule:{rule.pk}:customer:{soon.pk}:2027-03-05")
    ]
    assert (first[rule.pk].followups, again[rule.pk].fired) == (1, 0)
    assert not_enrolled.enrollments.count() == 0


def test_a_first_purchase_anniversary_counts_from_the_first_order(lifecycle):
    Rule.objects.filter(journey=lifecycle).update(is_active=False)
    template = FollowUpTemplate.objects.create(name="Anniversary", channel="email")
    rule = Rule.objects.create(journey=lifecycle, name="Anniversary", trigger="date",
                               profile_date="first_purchase_anniversary", days=3, followup_template=template)
    customers = [client(1), client(2), client(3)]
    first_orders = [dt.datetime(2025, 3, 3, 9, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC),
                    dt.datetime(2027, 3, 2, 9, tzinfo=dt.UTC)]  # two years, too far ahead, this year (no anniversary)
    for customer, first_order in zip(customers, first_orders, strict=True):
        Customer.objects.filter(pk=customer.pk).update(first_order_at=first_order)
        place(customer, lifecycle, "loyalty", days_ago(30))

    rules_apply_time_based(now=NOW)

    assert list(FollowUp.objects.values_list("customer", "idempotency_key")) == [
        (customers[0].pk, f"rule:{rule.pk}:customer:{customers[0].pk}:2027-03-03")
    ]


# 20:00 UTC on 28 February is already 1 March in Tokyo (05:00) and in Auckland (09:00), still 28 February in Paris.
EVENING_UTC = dt.datetime(2027, 2, 28, 20, tzinfo=dt.UTC)


def test_birthdays_come_on_the_clients_boutique_calendar_not_utcs(lifecycle, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # the house's clock, for a client without a boutique
    Rule.objects.filter(journey=lifecycle).update(is_active=False)
    template = FollowUpTemplate.objects.create(name="Birthday", channel="advisor_task")
    rule = Rule.objects.create(journey=lifecycle, name="Birthday tomorrow", trigger="date", profile_date="birthday",
                               days=1, followup_template=template)
    tokyo = BoutiqueFactory(code="TYO", timezone="Asia/Tokyo")
    paris = BoutiqueFactory(code="PAR", timezone="Europe/Paris")
    tokyo_2_march = client(1, birth_date=dt.date(1980, 3, 2), home_boutique=tokyo)  # tomorrow in Tokyo
    tokyo_28_february = client(2, birth_date=dt.date(1980, 2, 28), home_boutique=tokyo)  # yesterday in Tokyo
    paris_2_march = client(3, birth_date=dt.date(1980, 3, 2), home_boutique=paris)  # in two days in Paris
    house_2_march = client(4, birth_date=dt.date(1980, 3, 2))  # tomorrow in Auckland
    for customer in (tokyo_2_march, tokyo_28_february, paris_2_march, house_2_march):
        place(customer, lifecycle, "loyalty", days_ago(30))

    rules_apply_time_based(now=EVENING_UTC)

    assert sorted(FollowUp.objects.values_list("customer", "idempotency_key")) == [
        (tokyo_2_march.pk, f"rule:{rule.pk}:customer:{tokyo_2_march.pk}:2027-03-02"),
        (house_2_march.pk, f"rule:{rule.pk}:customer:{house_2_march.pk}:2027-03-02"),
    ]


def test_a_first_purchase_anniversary_is_the_day_of_the_order_on_the_boutiques_calendar(lifecycle):
    Rule.objects.filter(journey=lifecycle).update(is_active=False)
    template = FollowUpTemplate.objects.create(name="Anniversary", channel="advisor_task")
    rule = Rule.objects.create(journey=lifecycle, name="Anniversary", trigger="date",
                               profile_date="first_purchase_anniversary", days=1, followup_template=template)
    tokyo = BoutiqueFactory(code="TYO", timezone="Asia/Tokyo")
    customer = client(1, home_boutique=tokyo)
    # Bought at 01:00 on 2 March in Tokyo, which was still 1 March in UTC.
    Customer.objects.filter(pk=customer.pk).update(first_order_at=dt.datetime(2025, 3, 1, 16, tzinfo=dt.UTC))
    place(customer, lifecycle, "loyalty", days_ago(30))

    rules_apply_time_based(now=EVENING_UTC)

    assert list(FollowUp.objects.values_list("customer", "idempotency_key")) == [
        (customer.pk, f"rule:{rule.pk}:customer:{customer.pk}:2027-03-02")
    ]


def test_the_beat_task_runs_the_time_rules_and_reports_per_rule(lifecycle):
    place(client(1), lifecycle, "purchase", dt.datetime(2020, 1, 1, tzinfo=dt.UTC))

    result = rules_apply_time_based_task.delay().get()

    rule = Rule.objects.get(name__startswith="Seven days")
    assert result[str(rule.pk)]["moved"] == 1
    assert sorted(result) == sorted(
        str(pk) for pk in Rule.objects.filter(trigger__in=["inactivity", "time_in_stage", "date"]).values_list(
            "pk", flat=True)
    )


def test_a_rule_whose_template_was_switched_off_does_nothing_and_the_other_rules_still_run(lifecycle):
    FollowUpTemplate.objects.filter(name="We miss you").update(is_active=False)
    lapsed, week = client(1), client(2)
    place(lapsed, lifecycle, "loyalty", days_ago(400))
    place(week, lifecycle, "purchase", days_ago(8))

    outcomes = rules_apply_time_based(now=NOW)

    assert (stage_of(lapsed), stage_of(week)) == ("loyalty", "post_purchase")
    assert outcomes[Rule.objects.get(name__startswith="No purchase for a year").pk].fired == 0
    assert FollowUp.objects.count() == 0


def test_a_time_rule_of_a_journey_for_a_segment_acts_only_on_clients_in_the_segment():
    tokyo = BoutiqueFactory(code="TYO", timezone="Asia/Tokyo")
    segment = Segment.objects.create(name="Tokyo clients", slug="tokyo", definition={"boutique_id": tokyo.pk})
    journey = Journey.objects.create(name="Tokyo", slug="tokyo-journey", segment=segment)
    first = Stage.objects.create(journey=journey, key="first", name="First", position=1)
    second = Stage.objects.create(journey=journey, key="second", name="Second", position=2)
    rule = Rule.objects.create(journey=journey, name="A week in first", trigger="time_in_stage", days=7,
                               to_stage=second)
    rule.from_stages.set([first])
    inside, outside = client(1, home_boutique=tokyo), client(2)
    for customer in (inside, outside):
        enrollment_enroll(customer=customer, journey=journey, stage=first, occurred_at=days_ago(10))

    outcomes = rules_apply_time_based(now=NOW, rule_ids=[rule.pk])

    assert (outcomes[rule.pk].evaluated, outcomes[rule.pk].moved) == (1, 1)
    assert sorted(Enrollment.objects.filter(journey=journey).values_list("customer", "stage__key")) == [
        (inside.pk, "second"), (outside.pk, "first"),
    ]


def test_a_segment_of_several_filters_is_applied_whole_in_the_time_rules_sql(settings):
    # Boutique, advisor, a name search (a LIKE pattern), consent (JSON containment) and tier: every kind of parameter
    # the segment's query brings into the rule's own statement.
    tokyo = BoutiqueFactory(code="TYO", timezone="Asia/Tokyo")
    advisor = AdvisorFactory(boutique=tokyo)
    segment = Segment.objects.create(name="Tokyo Annes", slug="tokyo-annes", definition={
        "boutique_id": tokyo.pk, "advisor_id": advisor.pk, "q": "Ann", "consent": "email_marketing",
        "value_tier": "prospect",
    })
    journey = Journey.objects.create(name="Annes", slug="annes", segment=segment)
    first = Stage.objects.create(journey=journey, key="first", name="First", position=1)
    second = Stage.objects.create(journey=journey, key="second", name="Second", position=2)
    rule = Rule.objects.create(journey=journey, name="A week", trigger="time_in_stage", days=7, to_stage=second)
    matching = client(1, home_boutique=tokyo, advisor=advisor, first_name="Anne")
    no_consent = client(2, home_boutique=tokyo, advisor=advisor, first_name="Annabel")
    other_name = client(3, home_boutique=tokyo, advisor=advisor, first_name="Berthe")
    for customer in (matching, other_name):
        consent_record(customer=customer, channel="email", purpose="marketing", is_granted=True,
                       occurred_at=days_ago(40), source=SourceSystem.CRM)
    for customer in (matching, no_consent, other_name):
        enrollment_enroll(customer=customer, journey=journey, stage=first, occurred_at=days_ago(10))

    outcomes = rules_apply_time_based(now=NOW, rule_ids=[rule.pk])

    assert outcomes[rule.pk].moved == 1
    assert Enrollment.objects.get(journey=journey, stage=second).customer_id == matching.pk


def test_a_time_rule_of_a_journey_whose_segment_does_not_filter_cleanly_moves_nobody():
    segment = Segment.objects.create(name="Broken", slug="broken", definition={"boutique_id": 999999})
    journey = Journey.objects.create(name="Broken", slug="broken-journey", segment=segment)
    first = Stage.objects.create(journey=journey, key="first", name="First", position=1)
    second = Stage.objects.create(journey=journey, key="second", name="Second", position=2)
    rule = Rule.objects.create(journey=journey, name="A week", trigger="time_in_stage", days=7, to_stage=second)
    enrollment_enroll(customer=client(1), journey=journey, stage=first, occurred_at=days_ago(10))

    outcomes = rules_apply_time_based(now=NOW, rule_ids=[rule.pk])

    assert (outcomes[rule.pk].evaluated, outcomes[rule.pk].moved) == (0, 0)
    assert Enrollment.objects.get(journey=journey).stage == first
