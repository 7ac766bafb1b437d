"""Follow-ups: scheduling a personal gesture for a client (or holding the client out of it), what staff may
change on one, and the advisor's one-click outcome and snooze of a task."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.moments import due_at_check
from customers.models import Customer
from customers.scoping import require_reach
from journeys.models import FollowUp, FollowUpTemplate, FollowUpVariant, Rule, Transition
from journeys.services.dispatch import NEEDS_REVIEW, email_message_id
from journeys.services.rendering import followup_context, render_message

logger = logging.getLogger(__name__)


IDEMPOTENCY_KEY_MAX_LENGTH = FollowUp._meta.get_field("idempotency_key").max_length


def variant_for(*, template: FollowUpTemplate, customer_id: int) -> FollowUpVariant | None:
    """The A/B variant a client gets for a template: drawn by the variants' weights, but from a hash of the client
    and the template, so the same client always gets the same variant of the same template."""
    return _draw(list(template.variants.all()), template, customer_id)


def _draw(variants: list[FollowUpVariant], template: FollowUpTemplate, customer_id: int) -> FollowUpVariant | None:
    variants = sorted(variants, key=lambda variant: (variant.label, variant.pk))
    if not variants:
        return None
    digest = hashlib.sha256(f"followup-variant:{template.pk}:{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(variant.weight for variant in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: the point is below the sum of the weights")


def holdout_percent(template: FollowUpTemplate) -> int:
    """The share of clients (percent) kept out of a template's follow-ups: its own, else the house default. Zero
    for a service template: a client is never kept from a message they expect or a call that repairs a
    disappointment, to measure anything."""
    if template.purpose == FollowUpTemplate.Purpose.SERVICE:
        return 0
    return settings.FOLLOWUP_HOLDOUT_PERCENT if template.holdout_percent is None else template.holdout_percent


def is_held_out(*, template: FollowUpTemplate, customer_id: int) -> bool:
    """Whether a client is in a template's holdout: drawn from a hash of the client and the template (salted apart
    from the variant's draw, so that holdout and variants are independent), the same answer every time, so a
    client is held out of every follow-up of that template, not of one in ten."""
    digest = hashlib.sha256(f"followup-holdout:{template.pk}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < holdout_percent(template) * 100


def _check_request(*, template: FollowUpTemplate, key: str, trigger_at: dt.datetime) -> None:
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ApplicationError.for_field("key", f"Give a key of 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.")
    if not template.is_active:
        raise ApplicationError.for_field("template", f"The template {template.name!r} is not active.")
    if trigger_at.tzinfo is None:
        raise ApplicationError.for_field("trigger_at", "The trigger moment needs a time zone.")


def _new_followup(
    *, customer: Customer, template: FollowUpTemplate, key: str, trigger_at: dt.datetime, rule: Rule | None,
    transition: Transition | None, variant: FollowUpVariant | None,
) -> FollowUp:
    """The follow-up to insert (unsaved), its variant drawn by the caller with variant_for."""
    due_at = trigger_at + dt.timedelta(hours=template.delay_hours)
    held_out = is_held_out(template=template, customer_id=customer.pk)
    followup = FollowUp(
        idempotency_key=key,
        customer=customer,
        template=template,
        variant=None if held_out else variant,
        channel=template.channel,
        due_at=due_at,
        first_due_at=due_at,
        status=FollowUp.Status.HELD_OUT if held_out else FollowUp.Status.SCHEDULED,
        status_reason=f"Held out ({holdout_percent(template)}% of clients) to measure the lift." if held_out else "",
        advisor_id=customer.advisor_id,
        rule=rule,
        transition=transition,
    )
    if template.channel == FollowUpTemplate.Channel.ADVISOR_TASK and followup.variant is not None:
        try:
            script = render_message(subject=variant.subject, body=variant.body, channel=template.channel,
                                    context=followup_context(customer))
            followup.subject, followup.body = script.subject[:200], script.body
        except ApplicationError as error:
            # The task still goes on the advisor's list, under the template's name; the reason says why it is bare.
            followup.status_reason = error.message[:240]
    return followup


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

    The variant is chosen here (see variant_for) and recorded. A client in the template's holdout (is_held_out)
    gets a follow-up with status held_out and no variant: nothing is sent, but it is there to count against
    (did the clients who got nothing buy anyway?). Email and SMS are rendered when they are sent, with the
    client's consent and data of that moment; an advisor task is rendered now, so the advisor reads the script
    on their list as soon as it is there.
    """
    _check_request(template=template, key=key, trigger_at=trigger_at)
    existing = FollowUp.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing, False
    followup = _new_followup(
        customer=customer, template=template, key=key, trigger_at=trigger_at, rule=rule, transition=transition,
        variant=variant_for(template=template, customer_id=customer.pk),
    )
    try:
        with transaction.atomic():
            followup.save(force_insert=True)
    except IntegrityError:
        # The same trigger was handled twice at once (a retried task); the other one scheduled it.
        return FollowUp.objects.get(idempotency_key=key), False
    logger.info("journeys.followup_scheduled followup_id=%s template_id=%s status=%s", followup.pk, template.pk,
                followup.status)
    return followup, True


@dataclass(frozen=True)
class FollowUpRequest:
    """One follow-up to schedule with followups_schedule_many: followup_schedule's arguments."""

    customer: Customer
    template: FollowUpTemplate
    key: str
    trigger_at: dt.datetime
    rule: Rule | None = None
    transition: Transition | None = None


@transaction.atomic
def followups_schedule_many(requests: list[FollowUpRequest]) -> int:
    """followup_schedule for many follow-ups at once (the rule engine's batches): the same checks, keys, variants,
    holdout and due times, in three statements whatever their number (the keys already scheduled, the variants of
    the templates, one INSERT). A key already scheduled, or twice in the list, schedules once. Returns how many
    were scheduled."""
    if not requests:
        return 0
    for request in requests:
        _check_request(template=request.template, key=request.key, trigger_at=request.trigger_at)
    taken = set(FollowUp.objects.filter(idempotency_key__in={r.key for r in requests})
                .values_list("idempotency_key", flat=True))
    variants: dict[int, list[FollowUpVariant]] = {}
    for variant in FollowUpVariant.objects.filter(template__in={r.template.pk for r in requests}):
        variants.setdefault(variant.template_id, []).append(variant)
    new: list[FollowUp] = []
    for request in requests:
        if request.key in taken:
            continue
        taken.add(request.key)
        new.append(_new_followup(
            customer=request.customer, template=request.template, key=request.key, trigger_at=request.trigger_at,
            rule=request.rule, transition=request.transition,
            variant=_draw(variants.get(request.template.pk, []), request.template, request.customer.pk),
        ))
    # A concurrent run may have scheduled a key since the read: the unique key keeps it once.
    FollowUp.objects.bulk_create(new, ignore_conflicts=True)
    logger.info("journeys.followups_scheduled requested=%s new=%s", len(requests), len(new))
    return len(new)


# Staff close a scheduled follow-up by hand (done, or cancelled); sent, failed and held out are the dispatcher's,
# but for one case: an email failed for review (delivery unknown) that staff found in the mail server's log.
STAFF_STATUS_CHANGES = {
    FollowUp.Status.SCHEDULED: {FollowUp.Status.DONE, FollowUp.Status.CANCELLED},
}


def _is_email_for_review(followup: FollowUp | None) -> bool:
    return (followup is not None and followup.status == FollowUp.Status.FAILED
            and followup.channel == FollowUpTemplate.Channel.EMAIL and followup.status_reason.startswith(NEEDS_REVIEW))


def followup_check_status_change(*, current: str, wanted: str, followup: FollowUp | None = None) -> None:
    """Refuse a status change staff may not make (the admin form shows the message on the status field).
    `followup`, when given, lets an email failed for review be confirmed as sent."""
    if wanted == current:
        return
    if wanted == FollowUp.Status.SENT and _is_email_for_review(followup):
        return
    if wanted not in STAFF_STATUS_CHANGES.get(current, set()):
        allowed = sorted(STAFF_STATUS_CHANGES.get(current, set()))
        raise ApplicationError.for_field(
            "status",
            f"A {current} follow-up cannot be set to {wanted} by hand"
            + (f"; it can be marked {' or '.join(allowed)}." if allowed else "; its status is final."),
        )


@transaction.atomic
def followup_update_by_staff(*, followup: FollowUp, changes: dict[str, str],
                             actor: AbstractBaseUser | None = None) -> list[str]:
    """Record what staff changed on a follow-up: its status (within STAFF_STATUS_CHANGES), reason and outcome, and
    who changed it. Only those fields, compared with the row as stored and locked: the dispatcher writes the others
    at any time. `actor` must reach the client."""
    unknown = set(changes) - {"status", "status_reason", "outcome"}
    if unknown:
        raise ApplicationError(f"These fields are not edited by staff: {', '.join(sorted(unknown))}.")
    stored = FollowUp.objects.select_for_update(of=("self",)).select_related("customer").get(pk=followup.pk)
    require_reach(actor, [stored.customer.home_boutique_id])
    if "status" in changes:
        followup_check_status_change(current=stored.status, wanted=changes["status"], followup=stored)
    confirmed_sent = changes.get("status") == FollowUp.Status.SENT and _is_email_for_review(stored)
    if changes.get("outcome") and changes["outcome"] not in FollowUp.Outcome.values:
        raise ApplicationError.for_field("outcome", f"Unknown outcome {changes['outcome']!r}.")
    changed = [name for name, value in changes.items() if getattr(stored, name) != value]
    for name in changed:
        setattr(stored, name, changes[name])
    if "status" in changed and stored.status == FollowUp.Status.DONE and stored.sent_at is None:
        changed += _mark_reached(stored, at=timezone.now())
    if confirmed_sent:
        # Found in the mail server's log: it went at its last attempt, under its deterministic Message-ID.
        stored.sent_at, stored.provider_message_id = stored.last_attempt_at, email_message_id(stored)
        changed += ["sent_at", "provider_message_id"]
    if changed:
        stored.handled_by, stored.handled_at = actor, timezone.now()
        stored.save(update_fields=[*changed, "handled_by", "handled_at", "updated_at"])
        logger.info("journeys.followup_updated followup_id=%s fields=%s actor_id=%s", stored.pk, ",".join(changed),
                    getattr(actor, "pk", None))
    return changed


def _mark_reached(stored: FollowUp, *, at: dt.datetime) -> list[str]:
    """A task done by hand reached the client at `at`: attribution counts from then (sent_at). Returns the fields
    set."""
    stored.sent_at = at
    return ["sent_at"]


def _open_task(followup: FollowUp, actor: AbstractBaseUser | None) -> FollowUp:
    """The task, locked, if it is still the advisor's to do and its client within the staff member's reach."""
    stored = FollowUp.objects.select_for_update(of=("self",)).select_related("customer").get(pk=followup.pk)
    require_reach(actor, [stored.customer.home_boutique_id])
    if stored.channel != FollowUpTemplate.Channel.ADVISOR_TASK:
        raise ApplicationError("Only an advisor task has an outcome to record or can be snoozed.")
    if stored.status != FollowUp.Status.SCHEDULED:
        raise ApplicationError(f"This task is already {stored.get_status_display().lower()}.")
    return stored


@transaction.atomic
def followup_record_outcome(*, followup: FollowUp, outcome: str, actor: AbstractBaseUser | None = None,
                            at: dt.datetime | None = None, note: str = "") -> FollowUp:
    """The advisor's one click on a task: reached, no answer, declined or sale, with what they noted (at most
    OUTCOME_NOTE_MAX characters, kept on the client's timeline). The task is done (it leaves the list) and counts
    from now for attribution (sent_at)."""
    if outcome not in FollowUp.Outcome.values:
        raise ApplicationError.for_field(
            "outcome", f"Unknown outcome {outcome!r}; use {', '.join(FollowUp.Outcome.values)}."
        )
    note = _outcome_note(note)
    stored = _open_task(followup, actor)
    stored.status, stored.outcome = FollowUp.Status.DONE, outcome
    _mark_reached(stored, at=at or timezone.now())
    stored.status_reason, stored.outcome_note = "", note
    stored.handled_by, stored.handled_at = actor, timezone.now()
    stored.save(update_fields=["status", "outcome", "outcome_note", "sent_at", "status_reason", "handled_by",
                               "handled_at", "updated_at"])
    logger.info("journeys.followup_done followup_id=%s outcome=%s actor_id=%s", stored.pk, outcome,
                getattr(actor, "pk", None))
    return stored


# A task's note says what happened on the call; a longer text belongs in the client's notes.
OUTCOME_NOTE_MAX = 1000


def _outcome_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > OUTCOME_NOTE_MAX:
        raise ApplicationError.for_field(
            "note", f"Keep the note to {OUTCOME_NOTE_MAX} characters ({len(note)} given)."
        )
    if any(ord(character) < 32 and character not in "\n\r\t" for character in note):
        raise ApplicationError.for_field("note", "The note holds a control character; type it again.")
    return note


@transaction.atomic
def followup_snooze(*, followup: FollowUp, until: dt.datetime, actor: AbstractBaseUser | None = None) -> FollowUp:
    """Put a task off until `until`: it leaves the advisor's list and comes back, due, then."""
    if until.tzinfo is None:
        raise ApplicationError.for_field("until", "The snooze time needs a time zone.")
    if until <= timezone.now():
        raise ApplicationError.for_field("until", "Snooze the task to a moment in the future.")
    due_at_check(until, field="until")
    stored = _open_task(followup, actor)
    stored.due_at = until
    stored.status_reason = f"Snoozed until {until.isoformat(timespec='minutes')}."
    stored.handled_by, stored.handled_at = actor, timezone.now()
    stored.save(update_fields=["due_at", "status_reason", "handled_by", "handled_at", "updated_at"])
    logger.info("journeys.followup_snoozed followup_id=%s actor_id=%s", stored.pk, getattr(actor, "pk", None))
    return stored
