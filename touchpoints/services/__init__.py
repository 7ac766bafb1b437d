"""Writes to the timeline: interactions, orders and the client metrics derived from orders."""

from touchpoints.services.interactions import RecordResult, interaction_record
from touchpoints.services.metrics import customer_metrics_refresh
from touchpoints.services.orders import OrderLineData, order_record
from touchpoints.services.staff import STAFF_LOGGED_TYPES, interaction_log

__all__ = [
    "STAFF_LOGGED_TYPES",
    "OrderLineData",
    "RecordResult",
    "customer_metrics_refresh",
    "interaction_log",
    "interaction_record",
    "order_record",
]
