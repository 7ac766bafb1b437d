"""Clients, orders and stage moves for the insight tests, through the real services."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from customers.models import SourceSystem
from customers.services import customer_upsert
from journeys.models import Journey, Stage, Transition
from journeys.services import enrollment_enroll, enrollment_move
from touchpoints.models import Order
from touchpoints.services.orders import OrderLineData, order_record

_numbers = itertools.count(1)
START = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def make_journey(name: str = "Lifecycle", targets=(10, 20, None)) -> tuple[Journey, list[Stage]]:
    journey = Journey.objects.create(name=name, slug=name.lower().replace(" ", "-"))
    stages = [
        Stage.objects.create(journey=journey, key=f"s{index}", name=f"Stage {index}", position=index, target_days=days)
        for index, days in enumerate(targets, start=1)
    ]
    return journey, stages


def make_client(boutique=None, advisor=None, persona=None):
    number = next(_numbers)
    return customer_upsert(
        source=SourceSystem.CRM, external_id=f"IN-{number}", email=f"insight{number}@example.com",
        first_name="Léa", last_name=f"Client{number}", home_boutique=boutique, advisor=advisor, persona=persona,
    ).customer


def buy(customer, placed_at: dt.datetime, amount: str = "1000.00", *, status: str = Order.Status.PLACED,
        returned: int = 0, currency: str = "EUR", external_id: str | None = None) -> Order:
    """An order of two articles at `amount` each, `returned` of them returned on the same receipt."""
    lines = [OrderLineData(sku="SKU-1", quantity=2, unit_price=amount)]
    if returned:
        lines.append(OrderLineData(sku="SKU-1", quantity=-returned, unit_price=amount, is_return=True))
    total = Decimal(amount) * (2 - returned)
    return order_record(
        source=SourceSystem.POS, external_id=external_id or f"O-{next(_numbers)}", customer=customer,
        placed_at=placed_at, currency=currency, total=total, lines=lines, status=status,
        boutique=customer.home_boutique,
    ).record


def walk(customer, journey, stages, days: list[float], start: dt.datetime = START):
    """Enroll at stages[0] at `start`, then move to each next stage after days[i] (cumulative from each entry)."""
    enrollment, _ = enrollment_enroll(customer=customer, journey=journey, stage=stages[0], occurred_at=start)
    moment = start
    for index, gap in enumerate(days, start=1):
        moment = moment + dt.timedelta(days=gap)
        enrollment_move(enrollment=enrollment, to_stage=stages[index], cause=Transition.Cause.MANUAL,
                        occurred_at=moment)
    return enrollment
