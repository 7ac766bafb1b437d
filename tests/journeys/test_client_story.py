"""The whole story on real workers with moved clocks, through the default "Client lifecycle" rules: a POS order
moves a new client to Purchase and schedules the thank-you two days later; the thank-you is not sent at night in
Paris but at 09:00; a second order ten days later is attributed to it and moves the client to Loyalty."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import SourceSystem
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, Transition
from journeys.tasks import followups_dispatch_task
from tests.journeys.helpers import make_client, wait_for
from touchpoints.services import OrderLineData, order_record

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Monday 4 May 2026, 21:30 in Paris: a purchase in the boutique. The thank-you is due 48 h later, at 21:30.
PURCHASE = dt.datetime(2026, 5, 4, 19, 30, tzinfo=dt.UTC)
NINE_IN_PARIS = dt.datetime(2026, 5, 7, 7, 0, tzinfo=dt.UTC)
SECOND_PURCHASE = NINE_IN_PARIS + dt.timedelta(days=10)


def dispatch_at(workers, moment: dt.datetime) -> dict[str, int]:
    workers.set_clock(moment)
    return followups_dispatch_task.apply_async(queue=workers.queue).get(timeout=60)


def pos_order(client, boutique, external_id: str, placed_at: dt.datetime, total: str):
    return order_record(
        source=SourceSystem.POS, external_id=external_id, customer=client, placed_at=placed_at, currency="EUR",
        total=total, lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price=total)], boutique=boutique,
    ).record


def test_an_order_moves_the_client_and_the_thank_you_goes_at_nine_in_paris_and_converts_the_next_order(
    clocked_workers, paris_boutique
):
    thank_you = FollowUpTemplate.objects.get(name="Thank you for your first purchase")
    # The holdout has its own tests; here the client is one who gets the message.
    FollowUpTemplate.objects.filter(pk=thank_you.pk).update(holdout_percent=0)
    client = make_client(paris_boutique)
    clocked_workers.start()

    # The POS order is recorded; once it commits, the rules run on the worker, a minute later by its clock.
    clocked_workers.set_clock(PURCHASE + dt.timedelta(minutes=1))
    first = pos_order(client, paris_boutique, "POS-1", PURCHASE, "2400.00")
    wait_for(lambda: FollowUp.objects.filter(customer=client).exists(), what="the thank-you scheduled")

    enrollment = Enrollment.objects.get(customer=client, journey__slug="client-lifecycle")
    assert enrollment.stage.key == "purchase"
    (move,) = Transition.objects.filter(enrollment=enrollment)
    assert (move.cause, move.rule.name, move.interaction.order_id) == (
        "rule", "First purchase → Purchase, with a thank-you", first.pk
    )
    followup = FollowUp.objects.get(customer=client)
    assert (followup.template, followup.status, followup.due_at, followup.rule_id) == (
        thank_you, "scheduled", PURCHASE + dt.timedelta(hours=48), move.rule_id
    )

    # Wednesday 21:31 in Paris: too late to write; postponed to Thursday 09:00. Sent then, once.
    assert dispatch_at(clocked_workers, PURCHASE + dt.timedelta(hours=48, minutes=1)) == {"postponed": 1}
    assert dispatch_at(clocked_workers, NINE_IN_PARIS) == {"sent": 1}
    assert dispatch_at(clocked_workers, NINE_IN_PARIS + dt.timedelta(minutes=1)) == {}
    followup.refresh_from_db()
    assert (followup.status, followup.sent_at) == ("sent", NINE_IN_PARIS)
    (mail,) = [path.read_text() for path in clocked_workers.mail_dir.iterdir()]
    assert f"To: {client.email}" in mail
    assert "Thank you for choosing Paris Faubourg." in mail

    # Ten days later, a second order: attributed to the thank-you, and the client moves on to Loyalty.
    clocked_workers.set_clock(SECOND_PURCHASE + dt.timedelta(minutes=1))
    second = pos_order(client, paris_boutique, "POS-2", SECOND_PURCHASE, "900.00")
    wait_for(lambda: FollowUp.objects.filter(pk=followup.pk, attributed_order=second).exists(),
             what="the second order attributed")
    wait_for(lambda: Enrollment.objects.filter(pk=enrollment.pk, stage__key="loyalty").exists(),
             what="the client in Loyalty")
    assert FollowUp.objects.filter(customer=client).count() == 1
