"""Writes to the timeline: interactions, orders and the client metrics derived from orders."""

from touchpoints.services.interactions import (
    InteractionItem,
    InteractionResult,
    RecordResult,
    interaction_record,
    interactions_record_many,
)
from touchpoints.services.metrics import customer_metrics_refresh
from touchpoints.services.orders import OrderItem, OrderLineData, OrderResult, order_record, orders_record_many
from touchpoints.services.staff import STAFF_LOGGED_TYPES, interaction_log

__all__ = [
    "STAFF_LOGGED_TYPES",
    "InteractionItem",
    "InteractionResult",
    "OrderItem",
    "OrderLineData",
    "OrderResult",
    "RecordResult",
    "customer_metrics_refresh",
    "interaction_log",
    "interaction_record",
    "interactions_record_many",
    "order_record",
    "orders_record_many",
]
