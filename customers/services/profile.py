"""Staff editing a client's profile: the same normalization and the same refusals as every other entry point."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from customers.models import Customer
from customers.normalizers import normalize_country, normalize_email, normalize_phone, normalize_preferences

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = frozenset({
    "first_name", "last_name", "birth_date", "language", "city", "country", "email", "phone", "home_boutique",
    "advisor", "persona", "preferences", "advisor_notes",
})


@transaction.atomic
def customer_update(*, customer: Customer, changes: dict[str, Any]) -> list[str]:
    """Save the profile fields staff changed (and only those: metrics and consent are written by other services at
    any moment). Email, phone, country and preferences are normalized; an email another client uses is refused."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(f"These fields are not edited here: {', '.join(sorted(unknown))}.")
    values = dict(changes)
    if "email" in values:
        values["email"] = normalize_email(values["email"])
    if "country" in values:
        values["country"] = normalize_country(values["country"])
    # Compare with the row as stored (a form may already have copied its values onto `customer`), under a lock.
    stored = Customer.objects.select_for_update().get(pk=customer.pk)
    if "phone" in values:
        boutique = values.get("home_boutique", stored.home_boutique)
        region = boutique.country if boutique else values.get("country", stored.country)
        values["phone"] = normalize_phone(values["phone"], region=region or None)
    if "preferences" in values:
        values["preferences"] = normalize_preferences(values["preferences"] or {})
    changed = [name for name, value in values.items() if getattr(stored, name) != value]
    for name, value in values.items():
        setattr(customer, name, value)
    if not changed:
        return []
    for name in changed:
        setattr(stored, name, values[name])
    try:
        with transaction.atomic():
            stored.save(update_fields=[*changed, "updated_at"])
    except IntegrityError as error:
        if "customer_unique_email" in str(error):
            raise ApplicationError.for_field(
                "email", "Another client already uses this email address; merge the two clients."
            ) from error
        raise
    logger.info("customers.profile_updated customer_id=%s fields=%s", customer.pk, ",".join(changed))
    return changed
