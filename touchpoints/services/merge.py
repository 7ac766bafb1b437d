"""Touchpoints' part of a client merge (registered with customers.services.register_merge_handler)."""

from __future__ import annotations

from customers.models import Customer
from customers.services.activity import customers_last_interaction_record_many
from touchpoints.models import Appointment, Interaction, Order
from touchpoints.services.metrics import customer_metrics_refresh


def move_touchpoints(*, surviving: Customer, merged: Customer) -> dict[str, int]:
    """Move the duplicate's interactions, orders and appointments to the surviving client and recompute the
    survivor's metrics."""
    moved = {
        "interactions": Interaction.objects.filter(customer=merged).update(customer=surviving),
        "orders": Order.objects.filter(customer=merged).update(customer=surviving),
        # The duplicate's bookings are the survivor's: kept on both days, and not blocking the merge.
        "appointments": Appointment.objects.filter(customer=merged).update(customer=surviving),
    }
    customer_metrics_refresh(customer_ids=[surviving.pk])
    if merged.last_interaction_at:
        customers_last_interaction_record_many(moments={surviving.pk: merged.last_interaction_at})
    return moved
