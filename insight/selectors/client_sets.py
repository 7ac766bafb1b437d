"""The clients behind a number of the journey map, for the client list's `client_set` filter (customers.filters):
`stage:<stage id>:<measure>:<since>:<until>[:<slice>=<value>...]`, the measure one of entered, moved_on, dropped,
in_stage, the slices boutique, advisor, persona and tier. Read from the same stays as the number itself, within
the viewer's scope, so the list holds exactly the clients counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from insight.models import StageStay
from insight.selectors.scope import Scope, Slices, insight_scope

MEASURES = ("entered", "moved_on", "dropped", "in_stage")
SLICE_NAMES = {"boutique": "boutique_id", "advisor": "advisor_id", "persona": "persona_id", "tier": "value_tier"}


def stage_set_value(*, stage_id: int, measure: str, slices: Slices) -> str:
    """The `client_set` value of one number of the map."""
    parts = ["stage", str(stage_id), measure, slices.since.isoformat(), slices.until.isoformat()]
    for name, attribute in SLICE_NAMES.items():
        value = getattr(slices, attribute)
        if value is not None:
            parts.append(f"{name}={value}")
    return ":".join(parts)


def parse_stage_set(argument: str) -> tuple[int, str, Slices]:
    """Read `<stage id>:<measure>:<since>:<until>[:<slice>=<value>...]`; a ValidationError says what is wrong."""
    parts = argument.split(":")
    if len(parts) < 4:
        raise ValidationError("Write stage:<stage id>:<measure>:<since YYYY-MM-DD>:<until YYYY-MM-DD>.")
    stage, measure, since, until, *rest = parts
    if not stage.isdigit():
        raise ValidationError(f"The stage {stage!r} is not an id.")
    if measure not in MEASURES:
        raise ValidationError(f"The measure {measure!r} is not one of {', '.join(MEASURES)}.")
    try:
        start, end = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
    except ValueError:
        raise ValidationError("The period's days are written YYYY-MM-DD.") from None
    if start > end:
        raise ValidationError("The period ends before it starts.")
    values: dict[str, Any] = {}
    for item in rest:
        name, _, value = item.partition("=")
        if name not in SLICE_NAMES or not value:
            raise ValidationError(f"{item!r} is not a slice; slices are {', '.join(SLICE_NAMES)}.")
        if name != "tier":
            if not value.isdigit():
                raise ValidationError(f"The {name} {value!r} is not an id.")
            value = int(value)
        values[SLICE_NAMES[name]] = value
    return int(stage), measure, Slices(since=start, until=end, **values)


def stays_measured(stays: QuerySet[StageStay], measure: str, as_of: dt.datetime) -> QuerySet[StageStay]:
    if measure == "moved_on":
        return stays.filter(moved_on=True)
    if measure == "dropped":
        return stays.filter(dropped_at__lte=as_of)
    if measure == "in_stage":
        return stays.filter(moved_on=False).filter(Q(dropped_at__isnull=True) | Q(dropped_at__gt=as_of))
    return stays


def stage_stays(*, stage_id: int, measure: str, slices: Slices, scope: Scope,
                as_of: dt.datetime | None = None) -> QuerySet[StageStay]:
    """The stays behind one number of the map."""
    if scope.is_empty:
        return StageStay.objects.none()
    stays = StageStay.objects.filter(stage_id=stage_id, entered_on__range=(slices.since, slices.until))
    if scope.boutique_ids is not None:
        stays = stays.filter(boutique_id__in=scope.boutique_ids)
    if scope.advisor_id is not None:
        stays = stays.filter(advisor_id=scope.advisor_id)
    for attribute in SLICE_NAMES.values():
        value = getattr(slices, attribute)
        if value is not None:
            stays = stays.filter(**{attribute: value})
    return stays_measured(stays, measure, as_of or timezone.now())


def stage_clients(argument: str, user: Any) -> QuerySet:
    """The ids of the clients behind `stage:<argument>` that `user` sees."""
    stage_id, measure, slices = parse_stage_set(argument)
    return stage_stays(stage_id=stage_id, measure=measure, slices=slices, scope=insight_scope(user)).values(
        "customer_id"
    )
