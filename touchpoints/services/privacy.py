"""Touchpoints' part of erasing a client's personal data (desk.services.client_erase runs every app's part)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from customers.models import Customer
from touchpoints.models import Appointment, Interaction

# What an erased client's appointments say they were for (the column may not be blank).
ERASED_PURPOSE = "Erased"


@transaction.atomic
def touchpoints_personal_data_erase(*, customer: Customer) -> dict[str, int]:
    """Clear the free metadata of the client's interactions (notes typed by staff, whatever a sync sent along).

    The interactions and orders themselves stay, with their types, moments, amounts and lines: they carry no
    personal data once the client is anonymous, and the figures (sales, funnels, visits) are made of them.
    Their (source, external id) pairs stay too, so that a source replaying an old sale never counts it twice.
    Appointments stay with their moments and outcomes; the purpose staff typed is erased, and a booking still to
    come is cancelled (the client is no one's to receive any more).
    """
    return {
        "interactions": Interaction.objects.filter(customer=customer).exclude(metadata={}).update(metadata={}),
        "appointments": Appointment.objects.filter(customer=customer).update(
            purpose=ERASED_PURPOSE,
            status=Case(When(status=Appointment.Status.BOOKED, then=Value(Appointment.Status.CANCELLED)),
                        default=F("status")), updated_at=timezone.now(),
        ),
    }
