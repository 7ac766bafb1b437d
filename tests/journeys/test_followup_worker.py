"""End to end with real workers on Redis and moved clocks: a thank-you email waits for the morning in Paris, is
sent once and converts a later order; withdrawn consent stops it; a worker killed after the provider accepted an
SMS does not make the client receive it twice."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import SourceSystem
from customers.services.consent import consent_record
from journeys.models import FollowUp
from journeys.services import followup_schedule
from journeys.tasks import followups_dispatch_task
from tests.journeys.helpers import make_client, make_template, wait_for
from touchpoints.services import OrderLineData, order_record

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Monday 4 May 2026, 21:30 in Paris: a purchase. The thank-you is due 48 h later: Wednesday 21:30 in Paris.
PURCHASE = dt.datetime(2026, 5, 4, 19, 30, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 5, 6, 19, 30, tzinfo=dt.UTC)
NINE_IN_PARIS = dt.datetime(2026, 5, 7, 7, 0, tzinfo=dt.UTC)


def dispatch_at(workers, moment: dt.datetime) -> dict[str, int]:
    """One beat of the dispatcher, run by a worker whose clock reads `moment`."""
    workers.set_clock(moment)
    return followups_dispatch_task.apply_async(queue=workers.queue).get(timeout=60)


def mails(workers) -> list[str]:
    return [path.read_text() for path in sorted(workers.mail_dir.iterdir())]


def test_a_thank_you_email_waits_for_nine_in_paris_is_sent_once_and_converts_an_order_ten_days_later(
    clocked_workers, paris_boutique
):
    client = make_client(paris_boutique)
    thank_you = make_template("Thank you", "email", delay_hours=48, holdout_percent=0,
                              subject="Merci {{ client.first_name }}",
                              body="<p>Dear {{ client.first_name }}, {{ advisor.name }} thanks you.</p>")
    followup, _ = followup_schedule(customer=client, template=thank_you, key=f"purchase:{client.pk}",
                                    trigger_at=PURCHASE)
    clocked_workers.start()

    # 21:31 in Paris: too late to write to a client.
    assert dispatch_at(clocked_workers, DUE + dt.timedelta(minutes=1)) == {"postponed": 1}
    followup.refresh_from_db()
    assert (followup.status, followup.due_at, mails(clocked_workers)) == ("scheduled", NINE_IN_PARIS, [])

    # 08:59 in Paris: still waiting. 09:00: sent. The next beat: nothing more.
    assert dispatch_at(clocked_workers, NINE_IN_PARIS - dt.timedelta(minutes=1)) == {}
    assert dispatch_at(clocked_workers, NINE_IN_PARIS) == {"sent": 1}
    assert dispatch_at(clocked_workers, NINE_IN_PARIS + dt.timedelta(minutes=1)) == {}

    followup.refresh_from_db()
    assert (followup.status, followup.sent_at, followup.attempts) == ("sent", NINE_IN_PARIS, 1)
    (mail,) = mails(clocked_workers)
    assert f"Message-ID: {followup.provider_message_id}" in mail
    assert f"To: {client.email}" in mail
    assert "Subject: =?utf-8?q?Merci_=C3=89lise?=" in mail

    # Ten days later the client buys again: the order is recorded here, the worker attributes it.
    order = order_record(
        source=SourceSystem.POS, external_id="O-2", customer=client, placed_at=NINE_IN_PARIS + dt.timedelta(days=10),
        currency="EUR", total="4200.00", lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price="4200.00")],
    ).record

    wait_for(lambda: FollowUp.objects.filter(pk=followup.pk, attributed_order=order).exists())


def test_consent_withdrawn_before_the_send_cancels_it(clocked_workers, paris_boutique):
    client = make_client(paris_boutique)
    thank_you = make_template("Thank you", "email", delay_hours=48, holdout_percent=0)
    followup, _ = followup_schedule(customer=client, template=thank_you, key="k", trigger_at=PURCHASE)
    consent_record(customer=client, channel="email", purpose="marketing", is_granted=False,
                   occurred_at=PURCHASE + dt.timedelta(days=1), source=SourceSystem.CRM)
    clocked_workers.start()

    assert dispatch_at(clocked_workers, NINE_IN_PARIS) == {"cancelled": 1}

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, mails(clocked_workers)) == ("cancelled", 0, [])
    assert followup.status_reason == "Cancelled: the client withdrew consent to Email marketing messages."


def test_a_worker_killed_after_the_provider_accepted_the_sms_does_not_send_it_again(
    clocked_workers, sms_provider, paris_boutique
):
    client = make_client(paris_boutique)
    thank_you = make_template("Thank you SMS", "sms", delay_hours=48, holdout_percent=0, subject="")
    followup, _ = followup_schedule(customer=client, template=thank_you, key="k", trigger_at=PURCHASE)
    first = clocked_workers.start()

    # The provider takes the message and holds its answer; the worker dies waiting for it.
    sms_provider.hold_after_accept = True
    clocked_workers.set_clock(NINE_IN_PARIS)
    followups_dispatch_task.apply_async(queue=clocked_workers.queue)
    assert sms_provider.accepted.wait(timeout=60)
    clocked_workers.kill(first)
    sms_provider.hold_after_accept = False
    sms_provider.release.set()

    followup.refresh_from_db()
    assert (followup.status, followup.attempts, followup.provider_message_id) == ("sending", 1, "")
    assert len(sms_provider.messages) == 1

    # Another worker, a beat within the sending lease: it leaves the follow-up to its (dead) worker.
    clocked_workers.start()
    assert dispatch_at(clocked_workers, NINE_IN_PARIS + dt.timedelta(minutes=1)) == {}
    # Past the lease: sent again with the same idempotency key; the provider knows it.
    assert dispatch_at(clocked_workers, NINE_IN_PARIS + dt.timedelta(minutes=6)) == {"sent": 1, "recovered": 1}

    followup.refresh_from_db()
    (message,) = sms_provider.messages
    assert (followup.status, followup.attempts, followup.provider_message_id) == ("sent", 2, message["sid"])
    assert [request["key"] for request in sms_provider.requests] == [message["key"], message["key"]]
    assert message["Body"] == "Dear Élise, thank you."
