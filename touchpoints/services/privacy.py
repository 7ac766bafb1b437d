"""Touchpoints' part of erasing a client's personal data (desk.services.client_erase runs every app's part)."""

from __future__ import annotations

from django.db import transaction

from customers.models import Customer
from touchpoints.models import Interaction


@transaction.atomic
def touchpoints_personal_data_erase(*, customer: Customer) -> dict[str, int]:
    """Clear the free metadata of the client's interactions (notes typed by staff, whatever a sync sent along).

    The interactions and orders themselves stay, with their types, moments, amounts and lines: they carry no
    personal data once the client is anonymous, and the figures (sales, funnels, visits) are made of them.
    Their (source, external id) pairs stay too, so that a source replaying an old sale never counts it twice.
    """
    return {"interactions": Interaction.objects.filter(customer=customer).exclude(metadata={}).update(metadata={})}
