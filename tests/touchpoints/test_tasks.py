"""Tasks of touchpoints, run by a real Celery worker on the real Redis broker."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Customer
from customers.services import customer_upsert
from touchpoints.services import OrderLineData, order_record
from touchpoints.tasks import customer_metrics_refresh_task


def _client_with_two_orders() -> Customer:
    customer = customer_upsert(source="crm", external_id="C-1", email="claire@example.com").customer
    for number, price in enumerate(("1200.00", "800.00"), start=1):
        order_record(source="pos", external_id=f"O-{number}", customer=customer,
                     placed_at=dt.datetime(2026, 1, number, tzinfo=dt.UTC), currency="EUR", total=price,
                     lines=[OrderLineData(sku="S", quantity=1, unit_price=price)])
    return customer


@pytest.mark.broker
def test_a_worker_on_the_broker_recomputes_a_clients_metrics(celery_worker):
    customer = _client_with_two_orders()
    # Metrics that drifted (say, a bulk fix in SQL went wrong): the task must put them back from the orders.
    Customer.objects.filter(pk=customer.pk).update(lifetime_value=1, order_count=9, average_order_value=0)

    result = customer_metrics_refresh_task.apply_async(args=[customer.pk], queue=celery_worker)

    assert result.get(timeout=30) == 1
    customer.refresh_from_db()
    assert (customer.lifetime_value, customer.order_count, customer.average_order_value) == (
        Decimal("2000.00"), 2, Decimal("1000.00")
    )


@pytest.mark.broker
def test_the_task_for_a_client_that_no_longer_exists_does_nothing(celery_worker):
    result = customer_metrics_refresh_task.apply_async(args=[987654], queue=celery_worker)

    assert result.get(timeout=30) == 0


@pytest.mark.django_db
def test_running_the_task_twice_changes_nothing_the_second_time():
    customer = _client_with_two_orders()
    Customer.objects.filter(pk=customer.pk).update(order_count=0)

    assert customer_metrics_refresh_task.delay(customer.pk).get() == 1
    assert customer_metrics_refresh_task.delay(customer.pk).get() == 0
