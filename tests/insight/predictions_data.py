"""Clients and net orders drawn from known BG/NBD parameters, written in bulk, for the foresight tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from customers.models import Customer
from insight.foresight import btyd
from touchpoints.models import Order

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
PARAMS = btyd.BetaGeoParams(r=0.9, alpha=60.0, a=2.5, b=5.0)


def house_with_purchases(*, clients: int, seed: int = 3, now: dt.datetime = NOW, boutique=None, advisor=None,
                         days_of_history: int = 700) -> list[Customer]:
    """`clients` clients, each with a first purchase within `days_of_history` before `now` and repeat purchases as
    BG/NBD draws them; each purchase is one order of 200 to 3,000 in the house currency."""
    rng = np.random.default_rng(seed)
    customers = Customer.objects.bulk_create(
        Customer(email=f"foresight{seed}-{number}@example.com", first_name="Client", last_name=f"No {number}",
                 home_boutique=boutique, advisor=advisor)
        for number in range(clients)
    )
    ages = rng.integers(30, days_of_history, clients).astype(float)
    drawn = btyd.simulate_bgnbd(PARAMS, clients, ages, seed=seed)
    orders = []
    for index, customer in enumerate(customers):
        first = now - dt.timedelta(days=float(ages[index]))
        repeat_days = sorted(rng.uniform(0, drawn["t_x"][index], max(int(drawn["x"][index]) - 1, 0)).tolist())
        days = [0.0, *repeat_days, drawn["t_x"][index]] if drawn["x"][index] > 0 else [0.0]
        for number, day in enumerate(days):
            amount = Decimal(int(rng.integers(200, 3000)))
            orders.append(Order(
                source="pos", external_id=f"F{seed}-{customer.pk}-{number}", customer=customer, boutique=boutique,
                channel="boutique", placed_at=first + dt.timedelta(days=day), status=Order.Status.FULFILLED,
                currency="EUR", total=amount, total_house=amount,
            ))
    Order.objects.bulk_create(orders, batch_size=2000)
    return customers


def order(customer: Customer, *, days_ago: float, total: str = "500.00", status: str = Order.Status.FULFILLED,
          now: dt.datetime = NOW, number: int = 0) -> Order:
    return Order.objects.create(
        source="pos", external_id=f"ONE-{customer.pk}-{number}", customer=customer, channel="boutique",
        placed_at=now - dt.timedelta(days=days_ago), status=status, currency="EUR", total=Decimal(total),
        total_house=Decimal(total),
    )
