"""Writes to feedback. Surveys, invitations and responses arrive with their own piece of work; merges now."""

from __future__ import annotations

from customers.models import Customer
from feedback.models import Invitation, Response


def move_feedback(*, surviving: Customer, merged: Customer) -> dict[str, int]:
    """Feedback's part of a client merge: invitations and responses follow the client."""
    return {
        "survey_invitations": Invitation.objects.filter(customer=merged).update(customer=surviving),
        "survey_responses": Response.objects.filter(customer=merged).update(customer=surviving),
    }
