"""Holdout, attribution of orders and the results per template and variant."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from django.core import mail

from customers.models import Advisor, SourceSystem
from journeys.models import FollowUp
from journeys.selectors import followup_results, two_proportion_test
from journeys.services import followup_record_outcome, followup_schedule, is_held_out
from journeys.services.attribution import order_attribute
from journeys.services.dispatch import followups_dispatch_due
from tests.factories import make_staff
from tests.journeys.helpers import make_client, make_template
from touchpoints.models import Order
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.django_db

TRIGGER = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
SENT = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)


def buy(customer, *, placed_at: dt.datetime, total: str = "1500.00", external_id: str | None = None,
        status: str = Order.Status.PLACED) -> Order:
    return order_record(
        source=SourceSystem.POS, external_id=external_id or f"O-{customer.pk}-{placed_at:%Y%m%d%H%M}",
        customer=customer, placed_at=placed_at, currency="EUR", total=total, status=status,
        lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price=total)],
    ).record


def sent_thank_you(customer, template) -> FollowUp:
    followup, _ = followup_schedule(customer=customer, template=template, key=f"t:{customer.pk}", trigger_at=TRIGGER)
    assert followups_dispatch_due(now=SENT) == {"sent": 1}
    followup.refresh_from_db()
    return followup


# --- holdout ----------------------------------------------------------------------------------------------------


def test_the_house_holds_out_a_tenth_of_clients_the_same_ones_every_time(settings):
    settings.FOLLOWUP_HOLDOUT_PERCENT = 10
    template = make_template("Thank you", "email")

    held_out = [customer_id for customer_id in range(10_000) if is_held_out(template=template, customer_id=customer_id)]

    # 1,000 expected; ±150 is five standard deviations (sqrt(10,000 × 0.1 × 0.9) = 30), whatever the template's id.
    assert abs(len(held_out) - 1000) < 150
    assert all(is_held_out(template=template, customer_id=customer_id) for customer_id in held_out[:100])


def test_a_held_out_client_gets_a_held_out_follow_up_without_variant_and_nothing_is_sent(paris_boutique):
    template = make_template("Thank you", "email", holdout_percent=50)
    # Clients are made until one of each side turns up (one in two each time: 40 tries never all fall on one side).
    held = next(client for client in (make_client(paris_boutique) for _ in range(40))
                if is_held_out(template=template, customer_id=client.pk))
    treated = next(client for client in (make_client(paris_boutique) for _ in range(40))
                   if not is_held_out(template=template, customer_id=client.pk))

    kept_out, _ = followup_schedule(customer=held, template=template, key="h", trigger_at=TRIGGER)
    followup, _ = followup_schedule(customer=treated, template=template, key="t", trigger_at=TRIGGER)

    assert (kept_out.status, kept_out.variant, kept_out.due_at) == ("held_out", None, SENT)
    assert kept_out.status_reason == "Held out (50% of clients) to measure the lift."
    assert (followup.status, followup.variant.label) == ("scheduled", "A")
    assert followups_dispatch_due(now=SENT) == {"sent": 1, "held_out": 1}
    kept_out.refresh_from_db()
    # Weighed like the real one: it would have gone now, so it counts (and converts) from now.
    assert (kept_out.status, kept_out.sent_at) == ("held_out", SENT)
    assert kept_out.status_reason == "Held out: nothing sent; it would have gone at 2026-05-06T08:00+00:00."
    assert len(mail.outbox) == 1


def test_a_held_out_follow_up_is_weighed_like_a_real_one_at_its_due_time(paris_boutique):
    template = make_template("Thank you", "email", holdout_percent=50)
    without_consent = next(client for client in (make_client(paris_boutique, consent=()) for _ in range(40))
                           if is_held_out(template=template, customer_id=client.pk))
    at_night = next(client for client in (make_client(paris_boutique) for _ in range(40))
                    if is_held_out(template=template, customer_id=client.pk))
    never, _ = followup_schedule(customer=without_consent, template=template, key="n", trigger_at=TRIGGER)
    later, _ = followup_schedule(customer=at_night, template=template, key="l",
                                 trigger_at=TRIGGER + dt.timedelta(hours=13))  # due 23:00 in Paris

    assert followups_dispatch_due(now=SENT + dt.timedelta(hours=13)) == {"cancelled": 1, "postponed": 1}

    never.refresh_from_db()
    later.refresh_from_db()
    # A client who would not have got it is in neither group; one who would have got it later, counts from then.
    assert (never.status, never.status_reason) == (
        "cancelled", "Held out, and would not have been sent: the client never gave consent to Email marketing "
                     "messages.")
    assert (later.status, later.sent_at, later.due_at) == ("held_out", None, dt.datetime(2026, 5, 7, 7, tzinfo=dt.UTC))
    assert later.status_reason == "Held out; postponed: quiet hours in Europe/Paris until 09:00 local time."
    assert followups_dispatch_due(now=later.due_at) == {"held_out": 1}
    later.refresh_from_db()
    assert later.sent_at == later.due_at


@pytest.mark.parametrize("fields", [{"holdout_percent": 0}, {"purpose": "service", "holdout_percent": 50}])
def test_a_template_with_no_holdout_or_for_service_holds_nobody_out(settings, fields):
    settings.FOLLOWUP_HOLDOUT_PERCENT = 10
    template = make_template("Thank you", "email", **fields)

    assert not any(is_held_out(template=template, customer_id=customer_id) for customer_id in range(2000))


# --- attribution ------------------------------------------------------------------------------------------------


def test_an_order_within_fourteen_days_of_a_sent_follow_up_is_attributed_to_it(
    paris_boutique, django_capture_on_commit_callbacks
):
    client = make_client(paris_boutique)
    followup = sent_thank_you(client, make_template("Thank you", "email"))

    with django_capture_on_commit_callbacks(execute=True):
        order = buy(client, placed_at=SENT + dt.timedelta(days=10))

    followup.refresh_from_db()
    assert followup.attributed_order == order


def test_an_order_after_the_window_or_before_the_follow_up_is_not_attributed(
    paris_boutique, django_capture_on_commit_callbacks
):
    client = make_client(paris_boutique)
    followup = sent_thank_you(client, make_template("Thank you", "email"))

    with django_capture_on_commit_callbacks(execute=True):
        buy(client, placed_at=SENT - dt.timedelta(hours=1))
        buy(client, placed_at=SENT + dt.timedelta(days=14, seconds=1))

    followup.refresh_from_db()
    assert followup.attributed_order is None


def test_a_cancelled_order_converts_nobody(paris_boutique, django_capture_on_commit_callbacks):
    client = make_client(paris_boutique)
    followup = sent_thank_you(client, make_template("Thank you", "email"))

    with django_capture_on_commit_callbacks(execute=True):
        buy(client, placed_at=SENT + dt.timedelta(days=2), status=Order.Status.CANCELLED)

    followup.refresh_from_db()
    assert followup.attributed_order is None


def test_the_first_order_of_the_window_is_kept_even_when_it_arrives_last(paris_boutique):
    client = make_client(paris_boutique)
    followup = sent_thank_you(client, make_template("Thank you", "email"))
    later = buy(client, placed_at=SENT + dt.timedelta(days=9))
    earlier = buy(client, placed_at=SENT + dt.timedelta(days=3))  # a late sync brings an earlier sale
    between = buy(client, placed_at=SENT + dt.timedelta(days=5))

    # In the order they were recorded (the listener's task calls this for each purchase).
    assert [order_attribute(order=order) for order in (later, earlier, between, earlier)] == [1, 1, 0, 0]

    followup.refresh_from_db()
    assert followup.attributed_order == earlier


def test_held_out_clients_and_done_tasks_count_their_orders_too(paris_boutique, settings,
                                                               django_capture_on_commit_callbacks):
    call = make_template("Call", "advisor_task", delay_hours=0, subject="Call", body="Call {{ client.first_name }}")
    email = make_template("Thank you", "email", holdout_percent=50)
    held = next(client for client in (make_client(paris_boutique) for _ in range(40))
                if is_held_out(template=email, customer_id=client.pk))
    kept_out, _ = followup_schedule(customer=held, template=email, key="h", trigger_at=TRIGGER)
    task, _ = followup_schedule(customer=held, template=call, key="c", trigger_at=TRIGGER)
    followup_record_outcome(followup=task, outcome="reached", at=TRIGGER + dt.timedelta(hours=3))
    assert followups_dispatch_due(now=SENT) == {"held_out": 1}

    with django_capture_on_commit_callbacks(execute=True):
        order = buy(held, placed_at=SENT + dt.timedelta(days=1))

    kept_out.refresh_from_db()
    task.refresh_from_db()
    assert (kept_out.attributed_order, task.attributed_order) == (order, order)


# --- results ----------------------------------------------------------------------------------------------------


def test_the_two_proportion_test_matches_the_textbook_values():
    # 30/200 against 50/200: pooled 0.2, standard error 0.04, z = -2.5, two-sided p = 0.0124.
    test = two_proportion_test(30, 200, 50, 200)

    assert math.isclose(test.z, -2.5)
    assert round(test.p_value, 4) == 0.0124
    assert test.is_significant
    assert not two_proportion_test(20, 200, 24, 200).is_significant
    assert two_proportion_test(0, 100, 0, 100) is None
    assert two_proportion_test(3, 0, 4, 10) is None


def test_results_per_variant_count_reached_converted_and_revenue_and_test_against_the_holdout(paris_boutique):
    template = make_template("Thank you", "email", variants=(("A", 1), ("B", 1)))
    a, b = template.variants.order_by("label")
    client = make_client(paris_boutique)
    orders = [buy(client, placed_at=SENT + dt.timedelta(days=1), total="1000.00", external_id="R-1"),
              buy(client, placed_at=SENT + dt.timedelta(days=2), total="250.00", external_id="R-2")]
    rows = []

    def add(variant, status: str, count: int, order=None):
        for _ in range(count):
            rows.append(FollowUp(customer=client, template=template, variant=variant, channel="email", due_at=SENT,
                                 status=status, attributed_order=order, idempotency_key=f"r:{len(rows)}"))

    add(a, "sent", 170)
    add(a, "sent", 30, orders[0])
    add(a, "failed", 4)
    add(b, "sent", 150)
    add(b, "sent", 50, orders[1])
    add(b, "scheduled", 7)
    add(b, "cancelled", 2, orders[0])  # cancelled: its order is not its conversion
    add(None, "held_out", 190)
    add(None, "held_out", 10, orders[1])
    for row in rows:
        row.sent_at = SENT if row.status in ("sent", "held_out") else None
    add(None, "held_out", 5)  # not due yet: not weighed, so not counted
    FollowUp.objects.bulk_create(rows)

    results = followup_results(template=template, viewer=make_staff(Advisor.Role.HEAD_OFFICE))

    variant_a, variant_b = results.variants
    assert (variant_a.label, variant_a.sent, variant_a.failed, variant_a.reached, variant_a.converted,
            variant_a.revenue) == ("A", 200, 4, 200, 30, Decimal("30000.00"))
    assert (variant_b.label, variant_b.sent, variant_b.scheduled, variant_b.cancelled, variant_b.reached,
            variant_b.converted, variant_b.revenue) == ("B", 200, 7, 2, 200, 50, Decimal("12500.00"))
    assert (variant_a.conversion_rate, variant_b.conversion_rate) == (0.15, 0.25)
    assert (results.holdout.reached, results.holdout.converted, results.holdout.conversion_rate) == (200, 10, 0.05)
    assert (results.treated.reached, results.treated.converted) == (400, 80)
    # B against the holdout: 25 % against 5 %, pooled 15 %: z = 0.2 / sqrt(0.15 × 0.85 × 0.01) = 5.60.
    assert round(variant_b.against_holdout.z, 2) == 5.60
    assert variant_b.against_holdout.is_significant
    ((first, second, between),) = results.between_variants
    assert (first, second, round(between.z, 2)) == ("A", "B", -2.5)


def test_an_email_opened_touchpoint_naming_the_message_id_notes_the_first_open(
    paris_boutique, django_capture_on_commit_callbacks
):
    client = make_client(paris_boutique)
    other = make_client(paris_boutique)
    followup = sent_thank_you(client, make_template("Thank you", "email"))

    def opened(customer, hours: int, message_id: str, external_id: str) -> None:
        interaction_record(customer=customer, touchpoint_type="email_opened", source=SourceSystem.ECOMMERCE,
                           occurred_at=SENT + dt.timedelta(hours=hours), external_id=external_id,
                           metadata={"message_id": message_id})

    with django_capture_on_commit_callbacks(execute=True):
        opened(client, 5, followup.provider_message_id, "open-2")
        opened(client, 2, followup.provider_message_id, "open-1")  # reported late, happened first
        opened(client, 1, "<someone-else@atelier.example>", "open-3")
        opened(other, 1, followup.provider_message_id, "open-4")  # another client's touchpoint

    followup.refresh_from_db()
    assert followup.opened_at == SENT + dt.timedelta(hours=2)
    head_office = make_staff(Advisor.Role.HEAD_OFFICE)
    assert followup_results(template=followup.template, viewer=head_office).variants[0].opened == 1
