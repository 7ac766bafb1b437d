"""Reads for the client page (customer 360): the header's figures, the journeys, the choices the quick actions
offer, and the client's history with what each change changed.

Each read is one query (or two), whatever the length of the client's timeline and history, so the page costs
the same for a new client and for one with years of visits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import DateTimeField, ExpressionWrapper, F, Model, QuerySet

from customers.models import Advisor, ConsentChannel, ConsentPurpose, Customer, SourceSystem
from customers.normalizers import PREFERENCE_KEYS
from journeys.models import Enrollment, Stage
from journeys.selectors import customer_enrollments, stages_of_active_journeys
from touchpoints.models import Appointment, Interaction

# What counts as the client coming in: a visit to a boutique or an appointment there.
VISIT_TYPES = ("store_visit", "appointment")
HISTORY_LIMIT = 20
# Every history row repeats these; they never change, so they say nothing about a change.
HISTORY_IGNORED_FIELDS = {"id", "public_id", "created_at"}
# How the systems that write without a staff member name themselves in the history context (pghistory.context).
SOURCE_LABELS = {"import": "Import", "sync": "Sync", "api": "API", "system": "System", **dict(SourceSystem.choices)}


@dataclass(frozen=True)
class ConsentState:
    """Consent on one channel: True granted, False withdrawn, None never asked."""

    channel: str
    label: str
    marketing: bool | None
    service: bool | None


def client_consent(*, customer: Customer) -> list[ConsentState]:
    """The client's current consent per channel and purpose, from the state the consent ledger keeps."""
    consent = customer.consent or {}
    return [
        ConsentState(
            channel=channel,
            label=label,
            marketing=consent.get(f"{channel}_{ConsentPurpose.MARKETING}"),
            service=consent.get(f"{channel}_{ConsentPurpose.SERVICE}"),
        )
        for channel, label in ConsentChannel.choices
    ]


def client_last_visit_at(*, customer: Customer) -> dt.datetime | None:
    """When the client last came to a boutique (a visit or an appointment), from the timeline."""
    return (
        Interaction.objects.filter(customer=customer, touchpoint_type__code__in=VISIT_TYPES)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )


@dataclass(frozen=True)
class JourneyStatus:
    """A client's place in one journey: the enrollment, how long in the current stage, and the journey's stages."""

    enrollment: Enrollment
    days_in_stage: int
    is_over_target: bool
    stages: list[Stage] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.enrollment.exited_at is None


def client_journeys(*, customer: Customer, now: dt.datetime, stages: list[Stage]) -> list[JourneyStatus]:
    """The client's journeys with the time in the current stage (over the stage's target or not). `stages` are
    those of the active journeys (stages_of_active_journeys), given so the page reads them once."""
    stages_by_journey: dict[int, list[Stage]] = {}
    for stage in stages:
        stages_by_journey.setdefault(stage.journey_id, []).append(stage)
    statuses = []
    for enrollment in customer_enrollments(customer=customer):
        until = enrollment.exited_at or now
        days = max((until - enrollment.stage_entered_at).days, 0)
        target = enrollment.stage.target_days
        statuses.append(
            JourneyStatus(
                enrollment=enrollment,
                days_in_stage=days,
                is_over_target=enrollment.exited_at is None and target is not None and days > target,
                stages=stages_by_journey.get(enrollment.journey_id, []),
            )
        )
    return statuses


def movable_stages() -> list[Stage]:
    """The stages staff may put a client in by hand, with their journeys."""
    return list(stages_of_active_journeys())


def advisor_choices(*, customer: Customer, user: Any) -> QuerySet[Advisor]:
    """The advisors `user` may give this client: active boutique staff of the client's home boutique, among the
    advisors the user may see. The service checks the boutique again; this keeps the list to possible answers."""
    if customer.home_boutique_id is None:
        return Advisor.objects.none()
    return (
        Advisor.objects.visible_to(user)
        .filter(is_active=True, boutique_id=customer.home_boutique_id)
        .exclude(role=Advisor.Role.HEAD_OFFICE)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
    )


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded change of the client: when, who or what made it (and how), and each field's old and new value.

    `staff_user_id` is set when a logged-in staff member made it; `action` is what the writing service called it
    (e.g. "assign advisor"); `kind` is "changed", "created" (the record's first state) or "recorded" (the first
    state history knows of a client that existed before history was kept).
    """

    at: dt.datetime
    who: str
    action: str
    kind: str
    changes: list[FieldChange]
    staff_user_id: int | None = None


def customer_history_model() -> type[Model]:
    return apps.get_model("customers", "CustomerHistory")


def _history_fields() -> list:
    model = customer_history_model()
    return [
        model_field
        for model_field in model._meta.concrete_fields
        if not model_field.name.startswith("pgh_") and model_field.name not in HISTORY_IGNORED_FIELDS
    ]


def _display(event: Model, model_field) -> str:
    """A field's value in a history row, as staff read it. Foreign keys were joined by the history query."""
    value = getattr(event, model_field.attname)
    if value is None or value == "" or value == {} or value == []:
        return ""
    if model_field.is_relation:
        related = getattr(event, model_field.name, None)
        return str(related) if related is not None else f"#{value} (deleted)"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if model_field.name == "consent" and isinstance(value, dict):
        return "; ".join(
            f"{key.replace('_', ' ')}: {'granted' if granted else 'withdrawn'}"
            for key, granted in sorted(value.items())
        )
    if isinstance(value, dict):
        # jsonb keeps keys in its own order; preferences read best in the order the page shows them.
        keys = sorted(value, key=lambda key: (PREFERENCE_KEYS.index(key) if key in PREFERENCE_KEYS else 99, key))
        return "; ".join(
            f"{key}: {', '.join(map(str, value[key])) if isinstance(value[key], list | tuple) else value[key]}"
            for key in keys
            if value[key] not in (None, "", [], {})
        )
    return str(value)


def _who(metadata: dict[str, Any], names: dict[Any, str]) -> tuple[str, int | None]:
    user_id = metadata.get("user")
    if user_id is not None:
        return names.get(user_id, f"Staff member #{user_id}"), user_id
    source = metadata.get("source") or metadata.get("via")
    if source:
        return SOURCE_LABELS.get(str(source).lower(), str(source)), None
    # A service's action with nobody logged in behind it: a task, a sync or a command did it.
    return "System", None


def customer_history(*, customer: Customer, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """The client's last `limit` recorded changes, newest first, each with the fields it changed (old and new).

    The rows are the snapshots pghistory's triggers write on every insert and update, bulk updates included; a
    change is the difference between a snapshot and the one before. Two queries: the last limit + 1 snapshots
    (with the foreign keys and the context joined) and the staff members named in their contexts.
    """
    fields = _history_fields()
    related = [model_field.name for model_field in fields if model_field.is_relation]
    select = ["pgh_context", *related, *(f"{name}__user" for name in related if name == "advisor")]
    events = list(
        customer_history_model()
        .objects.filter(pgh_obj_id=customer.pk)
        .select_related(*select)
        .order_by("-pgh_id")[: limit + 1]
    )
    contexts = [event.pgh_context.metadata if event.pgh_context_id and event.pgh_context else {} for event in events]
    user_ids = {metadata["user"] for metadata in contexts if metadata.get("user") is not None}
    names = {
        user.pk: user.get_full_name() or user.get_username()
        for user in get_user_model().objects.filter(pk__in=user_ids)
    } if user_ids else {}

    entries = []
    for position, event in enumerate(events[:limit]):
        # The snapshot before; the one fetched beyond `limit` is only the base of the oldest change shown.
        previous = events[position + 1] if position + 1 < len(events) else None
        changes = []
        for model_field in fields:
            new = _display(event, model_field)
            if previous is None:
                # The first state: the values it was given (a False flag is no more given than a blank).
                if new and getattr(event, model_field.attname) is not False:
                    changes.append(FieldChange(model_field.name, str(model_field.verbose_name), "", new))
                continue
            if getattr(previous, model_field.attname) != getattr(event, model_field.attname):
                old = _display(previous, model_field)
                changes.append(FieldChange(model_field.name, str(model_field.verbose_name), old, new))
        if not changes:
            continue
        who, staff_user_id = _who(contexts[position], names)
        entries.append(
            HistoryEntry(
                at=event.pgh_created_at,
                who=who,
                action=str(contexts[position].get("action", "")).replace("_", " "),
                kind="changed" if previous is not None else "created" if event.pgh_label == "insert" else "recorded",
                changes=changes,
                staff_user_id=staff_user_id,
            )
        )
    return entries


def client_upcoming_appointments(*, customer: Customer, now: dt.datetime, limit: int = 10) -> list[Appointment]:
    """The client's booked appointments not over yet (one under way included), the soonest first. One query."""
    return list(
        Appointment.objects.annotate(ends_at_moment=ExpressionWrapper(F("starts_at") + F("duration"),
                                                                      output_field=DateTimeField()))
        .filter(customer=customer, status=Appointment.Status.BOOKED, ends_at_moment__gt=now)
        .select_related("advisor__user", "boutique")
        .order_by("starts_at", "pk")[:limit]
    )
