"""Outcomes: which follow-up an order is attributed to.

An order placed within FOLLOWUP_ATTRIBUTION_DAYS after a follow-up reached the client (the message was sent, or
the advisor recorded the task's outcome) is attributed to it; so is one placed within that window after a
held-out follow-up would have gone (the dispatcher weighs each held-out one when it comes due, with the same
checks as a real one), which is how the holdout measures what clients do without the gesture.

Each follow-up keeps the first qualifying order of its own window, independently of the client's other
follow-ups: the question per template is "did the client buy within 14 days of it", asked the same way of the
treated and of the held-out clients. So one order may count for two templates, and revenue per template is not
to be summed across templates.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from journeys.models import FollowUp
from touchpoints.models import Interaction, Order

logger = logging.getLogger(__name__)

# Orders that stand: a cancelled or returned order converted nobody.
STANDING_ORDERS = (Order.Status.PLACED, Order.Status.FULFILLED)
# The follow-ups that can convert: those that reached the client, and the held-out ones that would have.
COUNTED = (FollowUp.Status.SENT, FollowUp.Status.DONE, FollowUp.Status.HELD_OUT)


def attribution_window() -> dt.timedelta:
    return dt.timedelta(days=settings.FOLLOWUP_ATTRIBUTION_DAYS)


@transaction.atomic
def order_attribute(*, order: Order) -> int:
    """Attribute `order` to every follow-up of its client whose window it falls in and that has no earlier order.
    Returns how many follow-ups now point at it. Running it again changes nothing."""
    if order.status not in STANDING_ORDERS or order.total <= 0:
        return 0
    placed, window = order.placed_at, attribution_window()
    # sent_at: when a message went, a task was done, or a held-out follow-up would have gone (dispatch).
    reached = Q(status__in=COUNTED, sent_at__lte=placed, sent_at__gte=placed - window)
    no_earlier_order = Q(attributed_order__isnull=True) | Q(attributed_order__placed_at__gt=placed)
    pks = list(
        FollowUp.objects.select_for_update(of=("self",))
        .filter(reached, no_earlier_order, customer_id=order.customer_id)
        .exclude(attributed_order=order)
        .values_list("pk", flat=True)
    )
    if pks:
        FollowUp.objects.filter(pk__in=pks).update(attributed_order=order, updated_at=timezone.now())
        logger.info("journeys.order_attributed order_id=%s followups=%s", order.pk, len(pks))
    return len(pks)


def orders_attribute_for_interactions(*, interaction_ids: list[int]) -> int:
    """Attribute the orders behind these newly recorded interactions (their purchases); ids of rows gone are
    skipped. Returns how many follow-ups were attributed."""
    order_ids = set(
        Interaction.objects.filter(pk__in=interaction_ids, order__isnull=False, touchpoint_type__code="purchase")
        .values_list("order_id", flat=True)
    )
    return sum(order_attribute(order=order) for order in Order.objects.filter(pk__in=order_ids).order_by("pk"))


# Where an `email_opened` touchpoint names the email it is about (the mail platform's webhook echoes the
# Message-ID the dispatcher set).
OPENED_MESSAGE_KEY = "message_id"


@transaction.atomic
def opens_record_for_interactions(*, interaction_ids: list[int]) -> int:
    """Note on each email follow-up when the client first opened it, from the `email_opened` touchpoints among
    these interactions whose metadata names its Message-ID (and that are the same client's). Returns how many
    follow-ups learned of an open (or of an earlier one)."""
    opens = Interaction.objects.filter(pk__in=interaction_ids, touchpoint_type__code="email_opened").values_list(
        "customer_id", "occurred_at", "metadata"
    )
    noted = 0
    for customer_id, occurred_at, metadata in opens:
        message_id = str((metadata or {}).get(OPENED_MESSAGE_KEY) or "").strip()
        if not message_id:
            continue
        noted += (
            FollowUp.objects.filter(customer_id=customer_id, provider_message_id=message_id,
                                    status=FollowUp.Status.SENT)
            .filter(Q(opened_at__isnull=True) | Q(opened_at__gt=occurred_at))
            .update(opened_at=occurred_at, updated_at=timezone.now())
        )
    return noted
