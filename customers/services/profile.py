"""Staff editing a client's profile: the same normalization and the same refusals as every other entry point."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from customers.models import Advisor, Boutique, Customer
from customers.normalizers import normalize_country, normalize_email, normalize_phone, normalize_preferences
from customers.scoping import require_reach, visible_boutique_ids
from customers.services.staff import advisor_check_for

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = frozenset({
    "first_name", "last_name", "birth_date", "language", "city", "country", "email", "phone", "home_boutique",
    "advisor", "persona", "preferences", "advisor_notes",
})


def customer_update_check(*, customer: Customer, changes: dict[str, Any], actor: Any = None) -> None:
    """Refuse what customer_update would refuse on who and where: the client and any boutique chosen must be in the
    staff member's reach (only head office moves a client to a boutique they do not work for, or out of every
    boutique), and the client's advisor works at the client's boutique. Forms call it to say so on the field."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ApplicationError(f"These fields are not edited here: {', '.join(sorted(unknown))}.")
    stored_boutique_id = (
        Customer.objects.filter(pk=customer.pk).values_list("home_boutique_id", flat=True).first()
        if customer.pk else customer.home_boutique_id
    )
    require_reach(actor, [stored_boutique_id])
    if "home_boutique" in changes:
        boutique: Boutique | None = changes["home_boutique"]
        if boutique is None and actor is not None and visible_boutique_ids(actor) is not None:
            raise ApplicationError.for_field(
                "home_boutique", "Only head office can take a client out of every boutique."
            )
        require_reach(actor, [boutique.pk if boutique else None], field="home_boutique",
                      message="Choose your own boutique; head office moves clients to another boutique.")
    if changes.get("email"):
        email = normalize_email(changes["email"])
        if email and Customer.objects.filter(email=email).exclude(pk=customer.pk).exists():
            raise _email_taken(email, actor)
    if "home_boutique" in changes or "advisor" in changes:
        advisor: Advisor | None = changes.get("advisor", customer.advisor)
        boutique = changes.get("home_boutique", customer.home_boutique)
        if advisor is not None:
            try:
                advisor_check_for(advisor, {boutique.pk if boutique else None})
            except ApplicationError:
                if "advisor" not in changes:
                    raise ApplicationError.for_field(
                        "advisor", f"{advisor} works at another boutique: choose an advisor of the new boutique, "
                        "or none."
                    ) from None
                raise


def _email_taken(email: str, actor: Any) -> ApplicationError:
    """The refusal of an email another client uses. Only staff who reach that client are told it is a client of
    theirs; the others are not told whether a client of another boutique exists."""
    if actor is None or Customer.objects.visible_to(actor).filter(email=email).exists():
        return ApplicationError.for_field(
            "email", "Another client already uses this email address; merge the two clients."
        )
    return ApplicationError.for_field("email", "This email address cannot be given to this client; ask head office.")


@transaction.atomic
def customer_update(*, customer: Customer, changes: dict[str, Any], actor: Any = None) -> list[str]:
    """Save the profile fields staff changed (and only those: metrics and consent are written by other services at
    any moment). Email, phone, country and preferences are normalized; an email another client uses is refused.

    `actor` is the staff member making the change (None: the system, e.g. a CRM pull); customer_update_check's
    refusals apply to both."""
    # Compare with the row as stored (a form may already have copied its values onto `customer`), under a lock.
    stored = Customer.objects.select_for_update().get(pk=customer.pk)
    customer_update_check(customer=customer, changes=changes, actor=actor)
    values = dict(changes)
    if "email" in values:
        values["email"] = normalize_email(values["email"])
    if "country" in values:
        values["country"] = normalize_country(values["country"])
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
            raise _email_taken(values["email"], actor) from error
        raise
    logger.info("customers.profile_updated customer_id=%s fields=%s", customer.pk, ",".join(changed))
    return changed
