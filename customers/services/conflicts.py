"""Contact conflicts: values a source proposed for a client and Atelier did not apply (customers.services.identity
keeps them), settled by staff. Applying goes through customer_update, with the same normalization and the same
reach checks as any staff edit."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Advisor, Boutique, ContactConflict, Persona
from customers.scoping import require_reach
from customers.services.profile import customer_update

logger = logging.getLogger(__name__)

_RELATED = {"home_boutique": Boutique, "advisor": Advisor, "persona": Persona}


def _proposed(conflict: ContactConflict) -> Any:
    model = _RELATED.get(conflict.field)
    if model is None:
        return conflict.proposed_value
    found = model.objects.filter(pk=conflict.proposed_value).first()
    if found is None:
        raise ApplicationError(f"The proposed {conflict.field.replace('_', ' ')} no longer exists.")
    return found


@transaction.atomic
def contact_conflicts_settle(*, conflicts: QuerySet[ContactConflict], apply: bool, actor: Any) -> dict[str, int]:
    """Apply (through customer_update) or dismiss open conflicts; each is settled once, by whom and when.

    Returns {"applied": n, "dismissed": n, "refused": n}; a proposal the client's profile refuses (an email another
    client uses) stays open and is counted as refused."""
    rows = list(
        ContactConflict.objects.select_for_update(of=("self",)).select_related("customer")
        .filter(pk__in=conflicts.values("pk"), status=ContactConflict.Status.OPEN).order_by("pk")
    )
    require_reach(actor, {row.customer.home_boutique_id for row in rows})
    counts = {"applied": 0, "dismissed": 0, "refused": 0}
    now = timezone.now()
    for row in rows:
        if apply:
            try:
                with transaction.atomic():
                    customer_update(customer=row.customer, changes={row.field: _proposed(row)}, actor=actor)
            except ApplicationError:
                counts["refused"] += 1
                continue
        row.status = ContactConflict.Status.APPLIED if apply else ContactConflict.Status.DISMISSED
        row.resolved_at, row.resolved_by = now, actor
        row.save(update_fields=["status", "resolved_at", "resolved_by"])
        counts["applied" if apply else "dismissed"] += 1
    logger.info("customers.contact_conflicts_settled applied=%s dismissed=%s refused=%s", counts["applied"],
                counts["dismissed"], counts["refused"])
    return counts
