"""Writes that span every app: erasing a client's personal data."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from customers.scoping import require_reach
from customers.services.privacy import ERASED_NAME, customer_personal_data_erase
from feedback.privacy import feedback_personal_data_erase
from insight.services.predictions import predictions_personal_data_erase
from journeys.privacy import journeys_personal_data_erase
from touchpoints.services.privacy import touchpoints_personal_data_erase

logger = logging.getLogger(__name__)


# What erasure does to each kind of row that points at a client (by its accessor on Customer). A test compares
# this with the model: a new kind of row makes it fail until someone decides what erasure does with it.
ERASURE_OF_CLIENT_ROWS = {
    "identities": "removed (customers)",
    "external_states": "removed: what the CRM last held of the client, name and address included (customers)",
    "contact_conflicts": "removed: names and addresses other systems proposed for the client (customers)",
    "consent_events": "kept as anonymous facts; a withdrawal appended for each consent still granted (customers)",
    "merges": "kept as audit entries, without the merged duplicate's snapshot or the reason (customers)",
    "events": "the client's history rows and their merged duplicates' deleted (customers)",
    "interactions": "kept for the figures; metadata cleared (touchpoints)",
    "orders": "kept for the figures, with their lines (touchpoints)",
    "appointments": "kept for the figures; purpose erased; booked ones cancelled (touchpoints)",
    "enrollments": "kept for the funnels; open ones exited; stage move notes cleared (journeys)",
    "followups": "kept for the results; content cleared; scheduled ones cancelled (journeys)",
    "hands_offs": "kept (who paused automation, when); reasons cleared (journeys)",
    "survey_invitations": "kept; open ones expired (feedback)",
    "survey_responses": "kept for NPS and CSAT; comment and answers cleared (feedback)",
    "recovery_cases": "kept for the SLA figures; open ones cancelled (feedback)",
    "predictions": "removed: a profile of the client's behaviour; erased clients are no longer scored (insight)",
    "recovery_events": "kept for the SLA figures; staff's notes on contacts and closings cleared (feedback)",
    "survey_messages": "kept for the counts; scheduled reminders and referral asks not sent, reason erased (feedback)",
}


@dataclass(frozen=True)
class ErasureResult:
    """The erased client (anonymous now) and how many rows of each kind erasure touched."""

    customer: Customer
    counts: dict[str, int]


@transaction.atomic
def client_erase(*, customer: Customer, actor: AbstractBaseUser) -> ErasureResult:
    """Erase a client's personal data everywhere Atelier holds it, in one transaction, and record who and when.

    Each app erases its own rows (customers, touchpoints, journeys, feedback); they are called here one by one,
    in plain sight, rather than through a registry: desk sits above every app and may call them all, and a test
    (tests/desk/test_privacy.py) fails when a model pointing at clients is added without being thought about.
    Customers goes first: it locks the client and refuses one already erased before anything else is touched.
    What is kept, and why, is written in each app's step; in short, the anonymous record with its orders,
    interactions, stages, scores and consent ledger stays for the figures and the proof of consent.
    """
    require_reach(actor, [customer.home_boutique_id])
    erased_at = timezone.now()
    counts = customer_personal_data_erase(customer=customer, actor=actor, erased_at=erased_at)
    counts.update(touchpoints_personal_data_erase(customer=customer))
    counts.update(journeys_personal_data_erase(customer=customer, erased_at=erased_at, actor=actor))
    counts.update(feedback_personal_data_erase(customer=customer, erased_at=erased_at))
    counts.update(predictions_personal_data_erase(customer=customer))
    # The admin's own log names the client as they were when staff changed them.
    counts["admin_log_entries"] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer), object_id=str(customer.pk)
    ).update(object_repr=ERASED_NAME)
    customer.refresh_from_db()
    logger.info("desk.client_erased customer_id=%s actor_id=%s", customer.pk, actor.pk)
    return ErasureResult(customer=customer, counts=counts)
