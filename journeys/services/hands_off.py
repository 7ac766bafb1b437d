"""Hands-off: an advisor pauses automation for one client (until a date, or until lifted)."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.moments import due_at_check
from customers.models import Customer
from customers.scoping import require_reach
from journeys.models import HandsOff

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = HandsOff._meta.get_field("reason").max_length


@transaction.atomic
def hands_off_set(
    *, customer: Customer, actor: AbstractBaseUser | None, until: dt.datetime | None = None, reason: str = ""
) -> HandsOff:
    """Pause journey rules for a client from now until `until` (None: until lifted). A pause already open is
    lifted by this one, so the client has one open pause and the record shows who changed it."""
    require_reach(actor, [customer.home_boutique_id])
    now = timezone.now()
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ApplicationError.for_field("reason", f"Keep the reason under {REASON_MAX_LENGTH + 1} characters.")
    if until is not None:
        if until.tzinfo is None:
            raise ApplicationError.for_field("until", "The end of the pause needs a time zone.")
        if until <= now:
            raise ApplicationError.for_field("until", "The end of the pause must be in the future.")
        due_at_check(until, field="until", now=now)
    # Locking the client serializes two advisors pausing the same client at once (one open pause per client).
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    HandsOff.objects.filter(customer=customer, lifted_at__isnull=True).update(lifted_at=now, lifted_by=actor)
    hands_off = HandsOff.objects.create(customer=customer, starts_at=now, until=until, reason=reason, set_by=actor)
    logger.info("journeys.hands_off_set customer_id=%s hands_off_id=%s", customer.pk, hands_off.pk)
    return hands_off


@transaction.atomic
def hands_off_lift(*, customer: Customer, actor: AbstractBaseUser | None) -> bool:
    """Lift a client's pause: rules act on them again. Returns False when there was none open."""
    require_reach(actor, [customer.home_boutique_id])
    lifted = HandsOff.objects.filter(customer=customer, lifted_at__isnull=True).update(
        lifted_at=timezone.now(), lifted_by=actor
    )
    if lifted:
        logger.info("journeys.hands_off_lifted customer_id=%s", customer.pk)
    return bool(lifted)
