"""Scheduling survey invitations after touchpoints: one per survey and interaction, due after the delay, and every
invitation that will not go recorded with its reason (erased, expired, consent, address, sample, throttle)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from customers.services import customer_upsert
from customers.services.consent import consent_record
from customers.services.privacy import customer_personal_data_erase
from feedback.models import Invitation, Survey
from feedback.services import invitations_schedule_many, is_sampled_in
from touchpoints.events import listeners_paused
from touchpoints.models import Interaction, TouchpointType
from touchpoints.services import interaction_record

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)
NOW = AT + dt.timedelta(hours=1)
ZERO_REASONS = {"erased": 0, "expired": 0, "no_consent": 0, "no_address": 0, "sampled_out": 0, "throttled": 0}


def survey(name: str = "After a visit", trigger: str = "store_visit", **fields) -> Survey:
    return Survey.objects.create(name=name, kind="nps", question="Would you recommend us?",
                                 trigger_type=TouchpointType.objects.get(code=trigger), **fields)


def client(number: int, *, email: bool = True, phone: str = "", consent: tuple[str, ...] = ("email",)) -> Customer:
    customer = customer_upsert(source="crm", external_id=f"C-{number}",
                               email=f"c{number}@example.com" if email else None, phone=phone or None).customer
    for channel in consent:
        consent_record(customer=customer, channel=channel, purpose="marketing", is_granted=True, occurred_at=AT,
                       source="atelier")
    customer.refresh_from_db()
    return customer


def visit(customer: Customer, at: dt.datetime = AT, code: str = "store_visit") -> Interaction:
    return interaction_record(customer=customer, touchpoint_type=code, occurred_at=at, source="pos").record


def invitations_by_client() -> dict[int, tuple[str, str]]:
    return {customer_id: (status, reason)
            for customer_id, status, reason in Invitation.objects.values_list("customer_id", "status", "reason")}


def test_a_store_visit_schedules_one_invitation_due_after_the_delay_and_a_rerun_changes_nothing():
    after_visit = survey(delay_hours=48)
    camille = client(1)
    interaction = visit(camille)

    first = invitations_schedule_many(interaction_ids=[interaction.pk, interaction.pk], now=NOW)
    again = invitations_schedule_many(interaction_ids=[interaction.pk], now=NOW)

    assert first.as_dict() == {"evaluated": 1, "scheduled": 1, "unchanged": 0, **ZERO_REASONS}
    assert again.as_dict() == {"evaluated": 1, "scheduled": 0, "unchanged": 1, **ZERO_REASONS}
    invitation = Invitation.objects.get()
    assert (invitation.survey_id, invitation.customer_id, invitation.interaction_id, invitation.channel,
            invitation.status, invitation.reason, invitation.due_at, invitation.expires_at, invitation.sent_at,
            invitation.answered_at) == (
        after_visit.pk, camille.pk, interaction.pk, "email", "scheduled", "", AT + dt.timedelta(hours=48),
        AT + dt.timedelta(hours=48, days=14), None, None,
    )
    assert len(invitation.token) >= 40


def test_every_invitation_that_will_not_go_records_why():
    survey(expires_after_days=3)
    erased, no_consent, no_address, ready = client(1), client(2, consent=()), client(3, email=False), client(4)
    customer_personal_data_erase(customer=erased, actor=None, erased_at=AT + dt.timedelta(minutes=1))
    late = client(5)
    visits = [visit(erased), visit(no_consent), visit(no_address), visit(ready),
              visit(late, at=AT - dt.timedelta(days=10))]

    outcome = invitations_schedule_many(interaction_ids=[v.pk for v in visits], now=NOW)

    assert outcome.as_dict() == {"evaluated": 5, "scheduled": 1, "unchanged": 0, **ZERO_REASONS, "erased": 1,
                                 "no_consent": 1, "no_address": 1, "expired": 1}
    assert invitations_by_client() == {
        erased.pk: ("not_sent", "erased"), no_consent.pk: ("not_sent", "no_consent"),
        no_address.pk: ("not_sent", "no_address"), ready.pk: ("scheduled", ""), late.pk: ("not_sent", "expired"),
    }


def test_consent_is_for_the_surveys_channel_and_purpose_and_an_sms_survey_needs_a_mobile_number():
    survey(name="By SMS", channel="sms", purpose="service")
    email_only = client(1)
    sms_service = client(2, phone="+33612345678", consent=())
    consent_record(customer=sms_service, channel="sms", purpose="service", is_granted=True, occurred_at=AT,
                   source="atelier")
    no_phone = client(3, consent=())
    consent_record(customer=no_phone, channel="sms", purpose="service", is_granted=True, occurred_at=AT,
                   source="atelier")

    invitations_schedule_many(interaction_ids=[visit(c).pk for c in (email_only, sms_service, no_phone)], now=NOW)

    assert invitations_by_client() == {
        email_only.pk: ("not_sent", "no_consent"), sms_service.pk: ("scheduled", ""),
        no_phone.pk: ("not_sent", "no_address"),
    }
    assert set(Invitation.objects.values_list("channel", flat=True)) == {"sms"}


def test_a_client_is_surveyed_once_per_recontact_days_across_all_surveys(settings):
    settings.SURVEY_RECONTACT_DAYS = 30
    visits, purchases = survey(delay_hours=0), survey(name="After a purchase", trigger="purchase", delay_hours=0)
    camille = client(1)
    first = visit(camille)
    invitations_schedule_many(interaction_ids=[first.pk], now=NOW)
    purchase = visit(camille, at=AT + dt.timedelta(days=29), code="purchase")
    later = visit(camille, at=AT + dt.timedelta(days=30))

    outcome = invitations_schedule_many(interaction_ids=[purchase.pk, later.pk], now=NOW)

    assert outcome.as_dict() == {"evaluated": 2, "scheduled": 1, "unchanged": 0, **ZERO_REASONS, "throttled": 1}
    assert sorted(Invitation.objects.values_list("survey_id", "interaction_id", "status", "reason")) == sorted([
        (visits.pk, first.pk, "scheduled", ""), (purchases.pk, purchase.pk, "not_sent", "throttled"),
        (visits.pk, later.pk, "scheduled", ""),
    ])


def test_two_surveys_on_one_touchpoint_send_one_invitation_and_say_the_other_was_throttled():
    first, second = survey(name="A"), survey(name="B")
    camille = client(1)

    outcome = invitations_schedule_many(interaction_ids=[visit(camille).pk], now=NOW)

    assert outcome.as_dict() == {"evaluated": 2, "scheduled": 1, "unchanged": 0, **ZERO_REASONS, "throttled": 1}
    assert dict(Invitation.objects.values_list("survey_id", "reason")) == {first.pk: "", second.pk: "throttled"}


def test_a_survey_may_ask_for_a_longer_recontact_period_but_not_a_shorter_one(settings):
    settings.SURVEY_RECONTACT_DAYS = 30
    survey(name="Visits", delay_hours=0)
    longer = survey(name="Purchases", trigger="purchase", delay_hours=0, recontact_days=60)
    shorter = survey(name="Events", trigger="event_attended", delay_hours=0, recontact_days=5)
    camille = client(1)
    invitations_schedule_many(interaction_ids=[visit(camille).pk], now=NOW)
    purchase = visit(camille, at=AT + dt.timedelta(days=45), code="purchase")
    event = visit(camille, at=AT + dt.timedelta(days=10), code="event_attended")

    invitations_schedule_many(interaction_ids=[purchase.pk, event.pk], now=NOW)

    assert dict(Invitation.objects.filter(survey__in=[longer, shorter]).values_list("survey__name", "reason")) == {
        "Purchases": "throttled", "Events": "throttled",
    }


def test_sampling_draws_the_same_clients_every_time():
    sampled = survey(sample_percent=50, recontact_days=None, delay_hours=0)
    clients = [client(number) for number in range(1, 21)]
    early = [visit(c) for c in clients]
    late = [visit(c, at=AT + dt.timedelta(days=40)) for c in clients]

    invitations_schedule_many(interaction_ids=[v.pk for v in early + late], now=NOW)

    expected = {c.pk: "" if is_sampled_in(survey=sampled, customer_id=c.pk) else "sampled_out" for c in clients}
    for interactions in (early, late):
        assert dict(Invitation.objects.filter(interaction__in=interactions)
                    .values_list("customer_id", "reason")) == expected
    assert set(expected.values()) == {"", "sampled_out"}
    assert {is_sampled_in(survey=sampled, customer_id=c.pk) for c in clients} == {
        is_sampled_in(survey=Survey.objects.get(pk=sampled.pk), customer_id=c.pk) for c in clients
    }


def test_other_touchpoints_inactive_surveys_and_surveys_without_a_trigger_schedule_nothing():
    survey(is_active=False)
    Survey.objects.create(name="No trigger", kind="csat", question="How was it?")
    survey(name="Purchases", trigger="purchase")
    camille = client(1)

    outcome = invitations_schedule_many(interaction_ids=[visit(camille).pk, 999_999_999], now=NOW)

    assert outcome.as_dict() == {"evaluated": 0, "scheduled": 0, "unchanged": 0, **ZERO_REASONS}
    assert not Invitation.objects.exists()


def test_a_committed_touchpoint_schedules_its_invitation_through_the_listener(django_capture_on_commit_callbacks):
    survey()
    camille = client(1)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        interaction = visit(camille, at=timezone.now())

    assert len(callbacks) == 1
    assert list(Invitation.objects.values_list("interaction_id", "status")) == [(interaction.pk, "scheduled")]


def visit_then_fail(customer: Customer) -> None:
    with transaction.atomic():
        visit(customer, at=AT + dt.timedelta(days=1))
        raise RuntimeError("rolled back")


def test_a_backfill_with_the_listeners_paused_or_a_rolled_back_touchpoint_schedules_nothing(
    django_capture_on_commit_callbacks,
):
    survey()
    camille = client(1)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with listeners_paused():
            visit(camille)
        with pytest.raises(RuntimeError):
            visit_then_fail(camille)

    assert callbacks == []
    assert Interaction.objects.filter(customer=camille).count() == 1
    assert not Invitation.objects.exists()


def test_a_batch_is_scheduled_in_a_handful_of_statements_whatever_its_size(django_assert_num_queries):
    survey(), survey(name="Purchases", trigger="purchase")
    visits = [visit(client(number)) for number in range(1, 31)]

    # savepoint, surveys, interactions with their clients, the clients' locks, pairs done, invitations around the
    # batch, one insert, release
    with django_assert_num_queries(8):
        outcome = invitations_schedule_many(interaction_ids=[v.pk for v in visits], now=NOW)

    assert (outcome.scheduled, Invitation.objects.filter(status="scheduled").count()) == (30, 30)


@pytest.mark.parametrize("translations", [{"de": "Würden Sie uns empfehlen?"}, {"fr": ""}, ["fr"], {"it": 3}])
def test_a_question_translation_must_name_a_shipped_language_and_give_a_question(translations):
    after_visit = Survey(name="After a visit", kind="nps", question="Would you recommend us?",
                         question_translations=translations)

    with pytest.raises(ValidationError) as refused:
        after_visit.full_clean()

    assert refused.value.message_dict == {"question_translations": [
        "Give an object of language codes (en, fr, it) to questions of 1 to 240 characters."
    ]}
