"""Alerts on PostgreSQL: the daily evaluation, who is told, the calendar, the cool-down, dismissals and the backtest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core import mail
from django.core.management import call_command

from customers.models import Advisor
from insight.models import Alert, CalendarPeriod
from insight.services.alerts import alert_acknowledge, alert_dismiss, alert_snooze, alerts_evaluate
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Order

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 5, 31)
HISTORY = 430


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg")


@pytest.fixture
def manager(paris):
    user = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")
    user.email = "helene@atelier.example"
    user.save(update_fields=["email"])
    return user


def trade(boutique, *, until: dt.date = DAY, overrides: dict[dt.date, int] | None = None, seed: int = 0) -> None:
    """HISTORY days of orders at `boutique` up to `until`: about sixty a day, more on Fridays and Saturdays, 1,000
    each; `overrides` sets the count of given days."""
    rng = np.random.default_rng(seed)
    orders, overrides = [], overrides or {}
    for offset in range(HISTORY):
        day = until - dt.timedelta(days=HISTORY - 1 - offset)
        usual = 60 + (20 if day.weekday() in (4, 5) else 0)
        count = overrides.get(day, int(rng.poisson(usual)))
        for number in range(count):
            orders.append(Order(
                source="pos", external_id=f"{boutique.code}-{day}-{number}", customer_id=_client().pk,
                boutique=boutique, channel="boutique", status=Order.Status.FULFILLED, currency="EUR",
                placed_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), total=Decimal("1000.00"),
                total_house=Decimal("1000.00"),
            ))
    Order.objects.bulk_create(orders, batch_size=2000)


_clients: list = []


def _client():
    from customers.models import Customer

    if not _clients or not Customer.objects.filter(pk=_clients[0].pk).exists():
        _clients[:] = [Customer.objects.create(email="shopper@example.com")]
    return _clients[0]


def test_a_boutique_whose_sync_broke_gets_alerts_and_its_manager_is_emailed(
    paris, manager, django_capture_on_commit_callbacks
):
    # Given a year of trade, then a day the POS sync delivered nothing
    trade(paris, overrides={DAY: 0})

    # When the day is evaluated
    with django_capture_on_commit_callbacks(execute=True):
        alerts = alerts_evaluate(day=DAY)

    # Then orders and revenue dropped, at the boutique and for the house
    assert {(alert.metric, alert.boutique_id, alert.kind) for alert in alerts} == {
        ("orders", None, "drop"), ("orders", paris.pk, "drop"), ("revenue", None, "drop"),
        ("revenue", paris.pk, "drop"),
    }
    assert len(alerts) == 4
    boutique_orders = next(alert for alert in alerts if alert.metric == "orders" and alert.boutique_id)
    assert (boutique_orders.value, boutique_orders.owner, boutique_orders.state) == (0.0, "boutique_manager", "new")
    assert boutique_orders.expected_low > 0
    # And the manager was emailed about the boutique's alerts, naming the figure, the value and the range
    to_manager = [message for message in mail.outbox if message.to == ["helene@atelier.example"]]
    assert len(to_manager) == 2
    sentence = "Daily orders at Paris Faubourg on 31 May 2026: 0.00, expected"
    assert any(sentence in message.body for message in to_manager)
    assert all("/admin/insight/alert/?metric=" in message.body for message in to_manager)


def test_a_spike_on_a_sales_day_the_calendar_marks_is_no_alert(paris):
    trade(paris, overrides={DAY: 180})
    CalendarPeriod.objects.create(name="Summer sales", kind="sales", starts_on=DAY, ends_on=DAY + dt.timedelta(3))

    assert alerts_evaluate(day=DAY) == []


def test_the_same_spike_on_an_unmarked_day_is_an_alert(paris):
    trade(paris, overrides={DAY: 180})

    kinds = {(alert.metric, alert.kind) for alert in alerts_evaluate(day=DAY) if alert.boutique_id}

    assert ("orders", "spike") in kinds


def test_a_second_day_of_drop_is_held_back_by_the_cool_down_and_a_rerun_adds_nothing(paris):
    next_day = DAY + dt.timedelta(days=1)
    trade(paris, until=next_day, overrides={DAY: 0, next_day: 0})
    first = alerts_evaluate(day=DAY)

    assert alerts_evaluate(day=DAY) == first
    assert alerts_evaluate(day=next_day) == []
    assert Alert.objects.count() == len(first) == 4


def test_a_dismissed_drop_keeps_the_pattern_quiet_beyond_the_cool_down_but_an_acknowledged_one_does_not(paris, manager):
    later = DAY + dt.timedelta(days=10)
    trade(paris, until=later, overrides={DAY: 0, later: 0})
    alerts = alerts_evaluate(day=DAY)
    for alert in alerts:
        if alert.metric == "orders":
            alert_dismiss(alert=alert, actor=manager)
        else:
            alert_acknowledge(alert=alert, actor=manager)

    again = alerts_evaluate(day=later)

    assert {(alert.metric, alert.boutique_id) for alert in again} == {("revenue", None), ("revenue", paris.pk)}
    assert len(again) == 2
    dismissed = Alert.objects.filter(state="dismissed")
    assert dismissed.count() == 2
    assert {alert.state_changed_by_id for alert in dismissed} == {manager.pk}


def test_snoozing_needs_a_day_after_the_alert_and_keeps_the_figure_quiet_until_then(paris, manager):
    later = DAY + dt.timedelta(days=10)
    trade(paris, until=later, overrides={DAY: 0, later: 0})
    alerts = alerts_evaluate(day=DAY)
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        alert_snooze(alert=alerts[0], actor=manager, until=DAY)
    for alert in alerts:
        alert_snooze(alert=alert, actor=manager, until=later + dt.timedelta(days=1))

    assert alerts_evaluate(day=later) == []


def test_the_backtest_lists_what_would_have_fired_and_writes_nothing(paris):
    trade(paris, overrides={DAY - dt.timedelta(days=20): 0})
    out = StringIO()

    call_command("alerts_backtest", "--since", str(DAY - dt.timedelta(days=30)), "--until", str(DAY), stdout=out)

    lines = out.getvalue().splitlines()
    assert any(line.startswith("2026-05-11  Daily orders") and "Paris Faubourg" in line and "drop" in line
               for line in lines)
    assert lines[-1].endswith("would have fired over 31 days.")
    assert Alert.objects.count() == 0


def test_the_backtest_refuses_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Give the date as YYYY-MM-DD"):
        call_command("alerts_backtest", "--since", "31/05/2026")
