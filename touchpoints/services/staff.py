"""Touchpoints staff log by hand from the client page: a visit, a call, a note."""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Advisor, Customer, SourceSystem
from customers.scoping import require_reach
from touchpoints.models import Interaction
from touchpoints.services.interactions import interaction_record

logger = logging.getLogger(__name__)

# The touchpoint types staff record themselves; the others arrive from the systems that see them.
STAFF_LOGGED_TYPES = ("store_visit", "phone_call", "advisor_note")
NOTE_MAX_LENGTH = 2000


@transaction.atomic
def interaction_log(
    *,
    customer: Customer,
    touchpoint_type: str,
    note: str = "",
    actor: AbstractBaseUser | None = None,
    occurred_at: dt.datetime | None = None,
) -> Interaction:
    """Put a visit, a call or a note a staff member logs on the client's timeline: source Atelier, at the client's
    home boutique, in the name of the staff member's advisor role (if they have one), the note in metadata."""
    require_reach(actor, [customer.home_boutique_id])
    if touchpoint_type not in STAFF_LOGGED_TYPES:
        raise ApplicationError.for_field(
            "touchpoint_type", f"Staff log visits, calls and notes, not {touchpoint_type!r}."
        )
    note = (note or "").strip()
    if touchpoint_type == "advisor_note" and not note:
        raise ApplicationError.for_field("note", "Write the note before saving it.")
    if len(note) > NOTE_MAX_LENGTH:
        raise ApplicationError.for_field("note", f"Keep the note under {NOTE_MAX_LENGTH} characters.")
    advisor = Advisor.objects.filter(user=actor, is_active=True).first() if actor is not None else None
    interaction = interaction_record(
        customer=customer,
        touchpoint_type=touchpoint_type,
        occurred_at=occurred_at or timezone.now(),
        source=SourceSystem.ATELIER,
        boutique=customer.home_boutique,
        advisor=advisor,
        metadata={"note": note},
    ).record
    logger.info("touchpoints.interaction_logged interaction_id=%s customer_id=%s", interaction.pk, customer.pk)
    return interaction
