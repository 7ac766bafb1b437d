"""Follow-ups: scheduling a personal gesture for a client, and what staff may change on one."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from customers.models import Customer
from journeys.models import FollowUp, FollowUpTemplate, FollowUpVariant, Rule, Transition

logger = logging.getLogger(__name__)


IDEMPOTENCY_KEY_MAX_LENGTH = FollowUp._meta.get_field("idempotency_key").max_length


def variant_for(*, template: FollowUpTemplate, customer_id: int) -> FollowUpVariant | None:
    """The A/B variant a client gets for a template: drawn by the variants' weights, but from a hash of the client
    and the template, so the same client always gets the same variant of the same template."""
    variants = list(template.variants.order_by("label", "pk"))
    if not variants:
        return None
    digest = hashlib.sha256(f"followup-variant:{template.pk}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(variant.weight for variant in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: the point is below the sum of the weights")


@transaction.atomic
def followup_schedule(
    *,
    customer: Customer,
    template: FollowUpTemplate,
    key: str,
    trigger_at: dt.datetime,
    rule: Rule | None = None,
    transition: Transition | None = None,
) -> tuple[FollowUp, bool]:
    """Schedule a template's follow-up for a client, due `template.delay_hours` after `trigger_at`, once per `key`
    (for example "rule:12:transition:345"): the same key again returns the follow-up already scheduled, created=False.

    The variant is chosen here (see variant_for) and recorded; subject and body are rendered when it is sent.
    """
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ApplicationError.for_field("key", f"Give a key of 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.")
    if not template.is_active:
        raise ApplicationError.for_field("template", f"The template {template.name!r} is not active.")
    existing = FollowUp.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing, False
    fields = {
        "customer": customer,
        "template": template,
        "variant": variant_for(template=template, customer_id=customer.pk),
        "channel": template.channel,
        "due_at": trigger_at + dt.timedelta(hours=template.delay_hours),
        "status": FollowUp.Status.SCHEDULED,
        "advisor_id": customer.advisor_id,
        "rule": rule,
        "transition": transition,
    }
    try:
        with transaction.atomic():
            followup = FollowUp.objects.create(idempotency_key=key, **fields)
    except IntegrityError:
        # The same trigger was handled twice at once (a retried task); the other one scheduled it.
        return FollowUp.objects.get(idempotency_key=key), False
    logger.info("journeys.followup_scheduled followup_id=%s template_id=%s", followup.pk, template.pk)
    return followup, True


# Staff close a scheduled follow-up by hand (done, or cancelled); sent, failed and held out are the dispatcher's.
STAFF_STATUS_CHANGES = {
    FollowUp.Status.SCHEDULED: {FollowUp.Status.DONE, FollowUp.Status.CANCELLED},
}


def followup_check_status_change(*, current: str, wanted: str) -> None:
    """Refuse a status change staff may not make (the admin form shows the message on the status field)."""
    if wanted == current:
        return
    if wanted not in STAFF_STATUS_CHANGES.get(current, set()):
        allowed = sorted(STAFF_STATUS_CHANGES.get(current, set()))
        raise ApplicationError.for_field(
            "status",
            f"A {current} follow-up cannot be set to {wanted} by hand"
            + (f"; it can be marked {' or '.join(allowed)}." if allowed else "; its status is final."),
        )


@transaction.atomic
def followup_update_by_staff(*, followup: FollowUp, changes: dict[str, str]) -> list[str]:
    """Record what staff changed on a follow-up: its status (within STAFF_STATUS_CHANGES), reason and outcome.
    Only those fields, compared with the row as stored and locked: the dispatcher writes the others at any time."""
    unknown = set(changes) - {"status", "status_reason", "outcome"}
    if unknown:
        raise ApplicationError(f"These fields are not edited by staff: {', '.join(sorted(unknown))}.")
    stored = FollowUp.objects.select_for_update().get(pk=followup.pk)
    if "status" in changes:
        followup_check_status_change(current=stored.status, wanted=changes["status"])
    if changes.get("outcome") and changes["outcome"] not in FollowUp.Outcome.values:
        raise ApplicationError.for_field("outcome", f"Unknown outcome {changes['outcome']!r}.")
    changed = [name for name, value in changes.items() if getattr(stored, name) != value]
    for name in changed:
        setattr(stored, name, changes[name])
    if changed:
        stored.save(update_fields=[*changed, "updated_at"])
        logger.info("journeys.followup_updated followup_id=%s fields=%s", stored.pk, ",".join(changed))
    return changed
