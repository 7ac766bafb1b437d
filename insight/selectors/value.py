"""The house's value figures from the value days (insight.models.ValueDay): revenue net of returns and
cancellations in the house currency, purchases, average order value and new clients. One query."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connections

from core.db import analytics_database
from insight.selectors.scope import Scope, Slices, conditions


@dataclass(frozen=True)
class ValueFigures:
    revenue: Decimal
    orders: int
    new_clients: int

    @property
    def average_order_value(self) -> Decimal:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else Decimal("0.00")

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": settings.HOUSE_CURRENCY, "revenue": str(self.revenue), "orders": self.orders,
            "average_order_value": str(self.average_order_value), "new_clients": self.new_clients,
        }


_SUM = """
SELECT COALESCE(SUM(revenue), 0), COALESCE(SUM(purchases), 0), COALESCE(SUM(new_clients), 0)
FROM insight_valueday WHERE day BETWEEN %s AND %s {where}
"""


def value_figures(*, slices: Slices, scope: Scope) -> ValueFigures:
    """Value in the period for the clients in `scope` (and the slice's boutique and advisor)."""
    if scope.is_empty:
        return ValueFigures(revenue=Decimal("0.00"), orders=0, new_clients=0)
    where, params = conditions(scope, Slices(since=slices.since, until=slices.until, boutique_id=slices.boutique_id,
                                             advisor_id=slices.advisor_id))
    with connections[analytics_database()].cursor() as cursor:
        cursor.execute(_SUM.format(where=where), [slices.since, slices.until, *params])
        revenue, orders, new_clients = cursor.fetchone()
    return ValueFigures(revenue=Decimal(revenue).quantize(Decimal("0.01")), orders=int(orders),
                        new_clients=int(new_clients))
