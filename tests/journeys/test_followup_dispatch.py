"""Sending due follow-ups: consent, quiet hours and the frequency cap at send time, retries, and never twice.

Email goes to Django's locmem backend (mail.outbox); SMS to a fake Twilio-style provider over real HTTP. The
dispatcher takes the moment it runs at (`now`), so each step of a day is a plain call.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import psycopg
import pytest
from django.core import mail
from django.db import connection

from core.errors import ApplicationError
from customers.models import SourceSystem
from customers.services.consent import consent_record
from journeys.models import FollowUp
from journeys.services import followup_schedule, followup_update_by_staff
from journeys.services.dispatch import (
    _decide,
    _record,
    _send,
    followups_dispatch_due,
    provider_key,
    quiet_hours_end,
)
from journeys.services.unsubscribe import unsubscribe_url
from tests.factories import BoutiqueFactory
from tests.journeys.helpers import make_client, make_template

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# Monday 4 May 2026, 08:00 UTC (10:00 in Paris): a purchase; the thank-you is due 48 h later, Wednesday 10:00 Paris.
TRIGGER = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)


def schedule(customer, template, *, trigger_at=TRIGGER, key: str | None = None) -> FollowUp:
    followup, created = followup_schedule(
        customer=customer, template=template, key=key or f"test:{template.pk}:{customer.pk}:{trigger_at.isoformat()}",
        trigger_at=trigger_at,
    )
    assert created
    return followup


@pytest.fixture
def thank_you_email():
    return make_template("Thank you email", "email", delay_hours=48)


@pytest.fixture
def thank_you_sms():
    return make_template("Thank you SMS", "sms", delay_hours=48, subject="")


# --- email ------------------------------------------------------------------------------------------------------


def test_a_due_email_is_sent_once_rendered_for_the_client_with_its_message_id_recorded(paris_boutique,
                                                                                        thank_you_email):
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_email)

    assert followups_dispatch_due(now=DUE - dt.timedelta(seconds=1)) == {}
    assert followups_dispatch_due(now=DUE) == {"sent": 1}
    assert followups_dispatch_due(now=DUE + dt.timedelta(minutes=1)) == {}  # the next beat: nothing again

    followup.refresh_from_db()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    # A marketing email: its unsubscribe link follows (tests/journeys/test_unsubscribe.py).
    link = unsubscribe_url(customer=client, channel="email", purpose="marketing")
    assert (message.to, message.subject, message.body) == (
        [client.email], "Merci Élise",
        f"Dear Élise, thank you.\n\n--\nTo stop receiving these emails, unsubscribe: {link}",
    )
    assert message.alternatives[0][0].startswith("Dear Élise, thank you.\n<p")
    assert message.extra_headers["Message-ID"] == followup.provider_message_id
    assert followup.provider_message_id == f"<{provider_key(followup)}@atelier.example>"
    assert (followup.status, followup.sent_at, followup.attempts, followup.status_reason) == ("sent", DUE, 1, "")
    assert (followup.subject, followup.body) == ("Merci Élise", "Dear Élise, thank you.")


def test_an_email_due_at_night_in_paris_waits_until_nine_in_the_morning_there(paris_boutique, thank_you_email):
    # Due Wednesday 23:30 in Paris (21:30 UTC).
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_email, trigger_at=dt.datetime(2026, 5, 4, 21, 30, tzinfo=dt.UTC))

    assert followups_dispatch_due(now=dt.datetime(2026, 5, 6, 21, 30, tzinfo=dt.UTC)) == {"postponed": 1}
    followup.refresh_from_db()
    assert followup.due_at == dt.datetime(2026, 5, 7, 9, tzinfo=PARIS)
    assert followup.status_reason == "Postponed: quiet hours in Europe/Paris until 09:00 local time."
    assert followup.first_due_at == dt.datetime(2026, 5, 6, 21, 30, tzinfo=dt.UTC)
    assert (followup.status, followup.attempts, mail.outbox) == ("scheduled", 0, [])

    assert followups_dispatch_due(now=dt.datetime(2026, 5, 7, 6, 59, tzinfo=dt.UTC)) == {}
    assert followups_dispatch_due(now=dt.datetime(2026, 5, 7, 7, 0, tzinfo=dt.UTC)) == {"sent": 1}
    followup.refresh_from_db()
    assert (followup.status, followup.sent_at) == ("sent", dt.datetime(2026, 5, 7, 7, tzinfo=dt.UTC))
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("boutique_zone", "moment", "expected_end"),
    [
        # 20:59 Paris: not yet quiet.
        ("Europe/Paris", dt.datetime(2026, 5, 6, 18, 59, tzinfo=dt.UTC), None),
        # 21:00 Paris: quiet until 09:00 the next morning.
        ("Europe/Paris", dt.datetime(2026, 5, 6, 19, 0, tzinfo=dt.UTC), dt.datetime(2026, 5, 7, 7, tzinfo=dt.UTC)),
        # 02:00 Paris: quiet until 09:00 the same morning.
        ("Europe/Paris", dt.datetime(2026, 5, 7, 0, 0, tzinfo=dt.UTC), dt.datetime(2026, 5, 7, 7, tzinfo=dt.UTC)),
        # 10:00 UTC is 19:00 in Tokyo: not yet quiet.
        ("Asia/Tokyo", dt.datetime(2026, 5, 6, 10, 0, tzinfo=dt.UTC), None),
        # 13:00 UTC is 22:00 in Tokyo: quiet until 09:00 Tokyo, 00:00 UTC.
        ("Asia/Tokyo", dt.datetime(2026, 5, 6, 13, 0, tzinfo=dt.UTC), dt.datetime(2026, 5, 7, 0, tzinfo=dt.UTC)),
        # The night the clocks go forward in Paris (29 March 2026): 09:00 is 07:00 UTC, no longer 08:00.
        ("Europe/Paris", dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC), dt.datetime(2026, 3, 29, 7, tzinfo=dt.UTC)),
    ],
)
def test_quiet_hours_are_read_on_the_boutique_clock(boutique_zone, moment, expected_end):
    assert quiet_hours_end(moment, zoneinfo.ZoneInfo(boutique_zone)) == expected_end


def test_quiet_hours_within_one_day_are_honoured_too(settings):
    settings.FOLLOWUP_QUIET_HOURS_START, settings.FOLLOWUP_QUIET_HOURS_END = "12:00", "14:00"

    assert quiet_hours_end(dt.datetime(2026, 5, 6, 11, tzinfo=PARIS), PARIS) is None
    assert quiet_hours_end(dt.datetime(2026, 5, 6, 13, tzinfo=PARIS), PARIS) == dt.datetime(
        2026, 5, 6, 14, tzinfo=PARIS
    )


def test_consent_withdrawn_before_sending_cancels_the_follow_up_with_the_reason(paris_boutique, thank_you_email):
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_email)
    consent_record(customer=client, channel="email", purpose="marketing", is_granted=False,
                   occurred_at=TRIGGER + dt.timedelta(hours=5), source=SourceSystem.CRM)

    assert followups_dispatch_due(now=DUE) == {"cancelled": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, followup.sent_at, mail.outbox) == ("cancelled", 0, None, [])
    assert followup.status_reason == "Cancelled: the client withdrew consent to Email marketing messages."
    assert followups_dispatch_due(now=DUE + dt.timedelta(days=1)) == {}


def test_a_client_who_never_consented_to_the_channel_gets_nothing(paris_boutique, thank_you_email):
    client = make_client(paris_boutique, consent=("sms",))
    followup = schedule(client, thank_you_email)

    assert followups_dispatch_due(now=DUE) == {"cancelled": 1}
    followup.refresh_from_db()
    assert followup.status_reason == "Cancelled: the client never gave consent to Email marketing messages."
    assert mail.outbox == []


def test_a_service_message_needs_service_consent_not_marketing(paris_boutique):
    alteration = make_template("Alteration ready", "email", delay_hours=0, purpose="service")
    client = make_client(paris_boutique)  # marketing consent only
    followup = schedule(client, alteration)

    assert followups_dispatch_due(now=TRIGGER) == {"cancelled": 1}
    followup.refresh_from_db()
    assert followup.status_reason == "Cancelled: the client never gave consent to Email service messages."


def test_over_the_frequency_cap_a_follow_up_waits_for_room_in_the_seven_days(settings, paris_boutique):
    settings.FOLLOWUP_MAX_PER_7_DAYS = 2
    settings.FOLLOWUP_MAX_LATE_HOURS = 7 * 24
    client = make_client(paris_boutique)
    templates = [make_template(f"Note {number}", "email", delay_hours=0) for number in range(3)]
    first = schedule(client, templates[0], trigger_at=dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC))
    second = schedule(client, templates[1], trigger_at=dt.datetime(2026, 5, 5, 8, tzinfo=dt.UTC))
    third = schedule(client, templates[2], trigger_at=dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC))

    assert followups_dispatch_due(now=first.due_at) == {"sent": 1}
    assert followups_dispatch_due(now=second.due_at) == {"sent": 1}
    assert followups_dispatch_due(now=third.due_at) == {"postponed": 1}

    third.refresh_from_db()
    # Room again when the first message turns seven days old.
    assert third.due_at == dt.datetime(2026, 5, 11, 8, tzinfo=dt.UTC)
    assert third.status_reason == "Postponed: 2 messages in 7 days already (frequency cap)."
    assert followups_dispatch_due(now=third.due_at) == {"sent": 1}
    assert len(mail.outbox) == 3


def test_a_follow_up_the_cap_would_delay_too_long_is_dropped_with_the_reason(settings, paris_boutique):
    settings.FOLLOWUP_MAX_PER_7_DAYS = 1  # and the default limit of 72 h late
    client = make_client(paris_boutique)
    first = schedule(client, make_template("Note 1", "email", delay_hours=0))
    second = schedule(client, make_template("Note 2", "email", delay_hours=0),
                      trigger_at=TRIGGER + dt.timedelta(days=1))

    followups_dispatch_due(now=first.due_at)
    assert followups_dispatch_due(now=second.due_at) == {"cancelled": 1}

    second.refresh_from_db()
    assert second.status == "cancelled"
    assert second.status_reason == ("Dropped: the client already has 1 messages in 7 days, and waiting for room would "
                                    "send it over 72 h late.")
    assert len(mail.outbox) == 1


def test_an_email_left_sending_by_a_dead_worker_is_not_sent_again_but_held_for_review(
    settings, paris_boutique, thank_you_email
):
    settings.FOLLOWUP_SENDING_LEASE_SECONDS = 300
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_email)
    # A worker claimed it (and may have handed it to the mail server), then died before recording anything.
    outcome, claim = _decide(now=DUE, recovering=False)
    assert outcome == "claimed"

    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=300)) == {}  # within the lease: still its worker's
    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=301)) == {"failed": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, mail.outbox) == ("failed", 1, [])
    assert followup.status_reason == (
        "Needs review: the worker stopped while handing this email to the mail server. Not resent, so the client "
        f"never gets it twice; look up Message-ID {claim.message_id} in the mail server's log."
    )


def test_advisor_tasks_are_left_on_the_advisors_list_by_the_dispatcher(paris_boutique):
    call = make_template("Call after purchase", "advisor_task", delay_hours=24, subject="Call {{ client.name }}",
                         body="Ask {{ client.first_name }} how it fits{% if last_order %}, {{ last_order.total }}"
                         "{% endif %}.")
    client = make_client(paris_boutique, consent=())
    task = schedule(client, call)

    assert followups_dispatch_due(now=task.due_at + dt.timedelta(days=3)) == {}
    task.refresh_from_db()
    assert (task.status, task.subject, task.body) == ("scheduled", f"Call Élise {client.last_name}",
                                                       "Ask Élise how it fits.")


# --- SMS --------------------------------------------------------------------------------------------------------


def test_an_sms_reaches_the_provider_once_with_the_follow_ups_idempotency_key(sms_provider, paris_boutique,
                                                                               thank_you_sms):
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_sms)

    assert followups_dispatch_due(now=DUE) == {"sent": 1}
    assert followups_dispatch_due(now=DUE + dt.timedelta(minutes=1)) == {}

    followup.refresh_from_db()
    assert sms_provider.messages == [{
        "To": client.phone, "From": "+33100000000", "Body": "Dear Élise, thank you.", "key": provider_key(followup),
        "sid": "SM00000000000000000000000000000001",
    }]
    assert (followup.status, followup.provider_message_id, followup.attempts) == (
        "sent", "SM00000000000000000000000000000001", 1
    )


def test_a_busy_provider_is_retried_with_backoff_then_the_follow_up_fails_with_the_reason(
    settings, sms_provider, paris_boutique, thank_you_sms
):
    settings.FOLLOWUP_MAX_ATTEMPTS, settings.FOLLOWUP_RETRY_BASE_SECONDS = 3, 60
    sms_provider.fail_next(503, times=3)
    followup = schedule(make_client(paris_boutique), thank_you_sms)

    assert followups_dispatch_due(now=DUE) == {"retried": 1}
    followup.refresh_from_db()
    assert (followup.status, followup.due_at, followup.attempts) == ("scheduled", DUE + dt.timedelta(seconds=60), 1)
    assert followup.status_reason == ("Attempt 1 failed (SMS provider answered 503: Service unavailable); next attempt "
                                      "at 2026-05-06T08:01:00+00:00.")
    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=60)) == {"retried": 1}
    followup.refresh_from_db()
    assert followup.due_at == DUE + dt.timedelta(seconds=60 + 240)
    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=300)) == {"failed": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, followup.sent_at) == ("failed", 3, None)
    assert followup.status_reason == "Failed after 3 attempts: SMS provider answered 503: Service unavailable"
    assert (len(sms_provider.requests), sms_provider.messages) == (3, [])


def test_a_number_the_provider_refuses_fails_at_once(sms_provider, paris_boutique, thank_you_sms):
    sms_provider.fail_next(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    followup = schedule(make_client(paris_boutique), thank_you_sms)

    assert followups_dispatch_due(now=DUE) == {"failed": 1}
    followup.refresh_from_db()
    assert (followup.status, followup.attempts) == ("failed", 1)
    assert followup.status_reason == "Failed: SMS provider answered 400: Invalid 'To' Phone Number"
    assert len(sms_provider.requests) == 1


def test_an_sms_left_sending_by_a_dead_worker_is_resent_with_the_same_key_and_reaches_the_client_once(
    settings, sms_provider, paris_boutique, thank_you_sms
):
    settings.FOLLOWUP_SENDING_LEASE_SECONDS = 300
    followup = schedule(make_client(paris_boutique), thank_you_sms)
    # A worker claimed it, the provider accepted the message, and the worker died before recording the answer.
    _outcome, claim = _decide(now=DUE, recovering=False)
    first_sid = _send(claim)

    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=301)) == {"sent": 1, "recovered": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.provider_message_id, followup.attempts) == ("sent", first_sid, 2)
    assert len(sms_provider.requests) == 2  # asked twice, with one key ...
    assert len(sms_provider.messages) == 1  # ... one message to the client


def test_an_sms_left_sending_is_not_resent_to_a_client_who_withdrew_consent_meanwhile(
    settings, sms_provider, paris_boutique, thank_you_sms
):
    settings.FOLLOWUP_SENDING_LEASE_SECONDS = 300
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_sms)
    # A worker claimed it and died before the provider took it; the client then replied STOP.
    _decide(now=DUE, recovering=False)
    consent_record(customer=client, channel="sms", purpose="marketing", is_granted=False,
                   occurred_at=DUE + dt.timedelta(seconds=60), source=SourceSystem.ATELIER)

    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=301)) == {"cancelled": 1, "recovered": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, followup.provider_message_id) == ("cancelled", 1, "")
    assert followup.status_reason == "Cancelled: the client withdrew consent to SMS marketing messages."
    assert sms_provider.requests == []


def test_an_sms_left_sending_that_comes_back_in_quiet_hours_waits_for_the_morning(
    settings, sms_provider, paris_boutique, thank_you_sms
):
    settings.FOLLOWUP_SENDING_LEASE_SECONDS = 300
    # Due at 20:58 in Paris; the worker dies; the lease ends after 21:00, in the quiet hours.
    followup = schedule(make_client(paris_boutique), thank_you_sms,
                        trigger_at=dt.datetime(2026, 5, 4, 18, 58, tzinfo=dt.UTC))
    _decide(now=dt.datetime(2026, 5, 6, 18, 58, tzinfo=dt.UTC), recovering=False)

    assert followups_dispatch_due(now=dt.datetime(2026, 5, 6, 19, 4, tzinfo=dt.UTC)) == {
        "postponed": 1, "recovered": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.due_at) == ("scheduled", dt.datetime(2026, 5, 7, 9, tzinfo=PARIS))
    assert sms_provider.requests == []
    assert followups_dispatch_due(now=dt.datetime(2026, 5, 7, 7, tzinfo=dt.UTC)) == {"sent": 1}
    followup.refresh_from_db()
    assert (followup.status, followup.attempts, len(sms_provider.messages)) == ("sent", 2, 1)


def test_a_client_without_a_mobile_number_fails_with_the_reason(paris_boutique, thank_you_sms, sms_provider):
    client = make_client(paris_boutique)
    client.phone = ""
    client.save(update_fields=["phone"])
    followup = schedule(client, thank_you_sms)

    assert followups_dispatch_due(now=DUE) == {"failed": 1}
    followup.refresh_from_db()
    assert (followup.status_reason, sms_provider.requests) == ("The client has no mobile number.", [])


def test_a_client_of_a_boutique_in_tokyo_is_not_messaged_at_night_in_tokyo(thank_you_email):
    tokyo = BoutiqueFactory(code="TYO", name="Tokyo Ginza", timezone="Asia/Tokyo", country="JP", currency="JPY")
    # Due at 14:00 UTC: 16:00 in Paris, but 23:00 in Tokyo, where the client lives.
    client = make_client(tokyo)
    followup = schedule(client, thank_you_email, trigger_at=dt.datetime(2026, 5, 4, 14, tzinfo=dt.UTC))

    assert followups_dispatch_due(now=dt.datetime(2026, 5, 6, 14, tzinfo=dt.UTC)) == {"postponed": 1}
    followup.refresh_from_db()
    assert followup.due_at == dt.datetime(2026, 5, 7, 0, tzinfo=dt.UTC)


def test_a_worker_that_outlived_its_lease_writes_nothing_over_the_attempt_that_took_over(
    settings, sms_provider, paris_boutique, thank_you_sms
):
    settings.FOLLOWUP_SENDING_LEASE_SECONDS = 300
    followup = schedule(make_client(paris_boutique), thank_you_sms)
    _outcome, slow_claim = _decide(now=DUE, recovering=False)  # a worker that hangs before it even sends
    assert followups_dispatch_due(now=DUE + dt.timedelta(seconds=301)) == {"sent": 1, "recovered": 1}

    # The slow worker wakes up and reports its own (late) attempt.
    assert _record(slow_claim, now=DUE + dt.timedelta(seconds=400), message_id="SM-late") == "superseded"

    followup.refresh_from_db()
    (message,) = sms_provider.messages
    assert (followup.provider_message_id, followup.sent_at, followup.attempts) == (
        message["sid"], DUE + dt.timedelta(seconds=301), 2
    )


def test_staff_may_confirm_an_email_held_for_review_as_sent_but_not_fake_another_delivery(
    settings, paris_boutique, thank_you_email, thank_you_sms, sms_provider
):
    settings.FOLLOWUP_SENDING_LEASE_SECONDS = 300
    email = schedule(make_client(paris_boutique), thank_you_email)
    _decide(now=DUE, recovering=False)
    followups_dispatch_due(now=DUE + dt.timedelta(seconds=301))  # failed, for review
    sms_provider.fail_next(400, {"message": "Invalid 'To' Phone Number"})
    sms = schedule(make_client(paris_boutique), thank_you_sms)
    followups_dispatch_due(now=DUE + dt.timedelta(seconds=302))  # failed, for good

    # Found in the mail server's log.
    assert followup_update_by_staff(followup=email, changes={"status": "sent"}) == [
        "status", "sent_at", "provider_message_id"
    ]
    with pytest.raises(ApplicationError) as refused:
        followup_update_by_staff(followup=sms, changes={"status": "sent"})

    email.refresh_from_db()
    assert (email.status, email.sent_at, email.provider_message_id) == (
        "sent", DUE, f"<{provider_key(email)}@atelier.example>"
    )
    assert refused.value.message == "A failed follow-up cannot be set to sent by hand; its status is final."
    sms.refresh_from_db()
    assert (sms.status, sms.sent_at) == ("failed", None)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_follow_up_whose_client_another_transaction_holds_waits_for_the_next_run(paris_boutique, thank_you_email):
    client = make_client(paris_boutique)
    followup = schedule(client, thank_you_email)
    database = connection.settings_dict
    # Another transaction (a consent change, an erasure) holds the client.
    with psycopg.connect(dbname=database["NAME"], user=database["USER"] or None, host=database["HOST"] or None,
                         port=database["PORT"] or None) as other:
        other.execute("SELECT 1 FROM customers_customer WHERE id = %s FOR UPDATE", [client.pk])

        assert followups_dispatch_due(now=DUE) == {"busy": 1}
        other.rollback()

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, mail.outbox) == ("scheduled", 0, [])
    assert followups_dispatch_due(now=DUE + dt.timedelta(minutes=1)) == {"sent": 1}


def test_an_email_far_past_its_due_time_is_dropped_not_sent_late(paris_boutique, thank_you_email):
    # A purchase of 2019 imported today: its thank-you would have been due years ago.
    followup = schedule(make_client(paris_boutique), thank_you_email,
                        trigger_at=dt.datetime(2019, 3, 1, 9, tzinfo=dt.UTC))
    recent = schedule(make_client(paris_boutique), thank_you_email, trigger_at=DUE - dt.timedelta(hours=48 + 71))

    assert followups_dispatch_due(now=DUE) == {"cancelled": 1, "sent": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.status_reason) == (
        "cancelled", "Dropped: due 2019-03-03T09:00+00:00, it is now over 72 h late."
    )
    recent.refresh_from_db()
    assert (recent.status, len(mail.outbox)) == ("sent", 1)
