"""Journeys' part of erasing a client's personal data (desk.services.client_erase runs every app's part).

A module of its own rather than a function in journeys/services.py, so that it stays apart from the stage moves
and rules there; it is a service all the same (keyword-only, atomic).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from customers.models import Customer
from journeys.models import Enrollment, FollowUp, HandsOff, Transition

CANCELLED_BY_ERASURE = "Cancelled: the client's personal data was erased."


@transaction.atomic
def journeys_personal_data_erase(*, customer: Customer, erased_at: dt.datetime,
                                 actor: AbstractBaseUser | None = None) -> dict[str, int]:
    """Clear what journeys wrote about the client in words, and stop every gesture still to come.

    Follow-ups lose their rendered subject and body (they greet the client by name), the provider's message id
    (it finds the message, address included, at the provider), their status reason (bounces quote the
    address) and the advisor's note on a task's outcome; scheduled ones are cancelled. Staff notes on stage moves
    and the reasons of hands-off pauses (often personal: a bereavement) are cleared. Open enrollments are closed,
    so that no rule schedules anything for the record again. Stages, moves, channels, dates, statuses and
    outcomes stay: funnels and follow-up results are counted from them. The follow-ups cancelled say who cancelled
    them and when (handled_by, handled_at: `actor`, the staff member who erased the client).
    """
    cleared = FollowUp.objects.filter(customer=customer).update(
        subject="", body="", provider_message_id="", status_reason="", outcome_note="", updated_at=erased_at
    )
    cancelled = FollowUp.objects.filter(customer=customer, status=FollowUp.Status.SCHEDULED).update(
        status=FollowUp.Status.CANCELLED, status_reason=CANCELLED_BY_ERASURE, handled_by=actor, handled_at=erased_at
    )
    notes = Transition.objects.filter(enrollment__customer=customer).exclude(note="").update(note="")
    reasons = HandsOff.objects.filter(customer=customer).exclude(reason="").update(reason="")
    exited = Enrollment.objects.filter(customer=customer, exited_at__isnull=True).update(
        exited_at=erased_at, updated_at=erased_at
    )
    return {
        "followups": cleared,
        "followups_cancelled": cancelled,
        "transition_notes": notes,
        "hands_off_reasons": reasons,
        "enrollments_exited": exited,
    }
