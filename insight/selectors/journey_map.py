"""The journey map from the stays (insight.models.StageStay): per stage, the clients who entered it in the period,
moved on (and to which stage), dropped, and how long they stayed. Three queries whatever the size of the house."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.utils import timezone

from core.db import analytics_database
from insight.selectors.scope import Scope, Slices, conditions
from journeys.models import Journey, Stage


@dataclass
class StageFigures:
    """One stage on the map. Every client who entered it moved on, dropped, or is still in it."""

    stage: int
    name: str
    position: int
    target_days: int | None
    entered: int = 0
    moved_on: int = 0
    dropped: int = 0
    median_days_in_stage: float | None = None
    p90_days_in_stage: float | None = None
    moves: dict[int, int] = field(default_factory=dict)

    @property
    def in_stage(self) -> int:
        return self.entered - self.moved_on - self.dropped

    @property
    def conversion(self) -> float | None:
        """Step conversion: the share of those who entered who moved on."""
        return round(self.moved_on / self.entered, 4) if self.entered else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "name": self.name, "position": self.position, "target_days": self.target_days,
            "entered": self.entered, "moved_on": self.moved_on, "dropped": self.dropped, "in_stage": self.in_stage,
            "conversion": self.conversion, "median_days_in_stage": self.median_days_in_stage,
            "p90_days_in_stage": self.p90_days_in_stage,
            "moves": [{"to_stage": to_stage, "clients": count} for to_stage, count in sorted(self.moves.items())],
        }


def overall_conversion(stages: list[StageFigures]) -> float | None:
    """The share of the first stage's entrants that the last stage's entrants make."""
    if len(stages) < 2 or not stages[0].entered:
        return None
    return round(stages[-1].entered / stages[0].entered, 4)


def journey_stages(journey: Journey) -> list[StageFigures]:
    return [
        StageFigures(stage=stage.pk, name=stage.name, position=stage.position, target_days=stage.target_days)
        for stage in Stage.objects.filter(journey=journey).order_by("position")
    ]


_FIGURES = """
SELECT stage_id, COUNT(*), COUNT(*) FILTER (WHERE moved_on), COUNT(*) FILTER (WHERE dropped_at <= %s),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM left_at - entered_at) / 86400)
           FILTER (WHERE left_at IS NOT NULL),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM left_at - entered_at) / 86400)
           FILTER (WHERE left_at IS NOT NULL)
FROM insight_stagestay
WHERE journey_id = %s AND entered_on BETWEEN %s AND %s {where}
GROUP BY stage_id
"""
_MOVES = """
SELECT stage_id, to_stage_id, COUNT(*)
FROM insight_stagestay
WHERE journey_id = %s AND entered_on BETWEEN %s AND %s AND moved_on {where}
GROUP BY stage_id, to_stage_id
"""


def _days(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def journey_funnel(
    *, journey: Journey, slices: Slices, scope: Scope, as_of: dt.datetime | None = None
) -> list[StageFigures]:
    """The map of `journey` for the clients who entered its stages in the period, within `scope`."""
    stages = journey_stages(journey)
    if scope.is_empty:
        return stages
    by_id = {figures.stage: figures for figures in stages}
    where, params = conditions(scope, slices)
    period = [journey.pk, slices.since, slices.until]
    with connections[analytics_database()].cursor() as cursor:
        cursor.execute(_FIGURES.format(where=where), [as_of or timezone.now(), *period, *params])
        for stage_id, entered, moved_on, dropped, median, p90 in cursor.fetchall():
            figures = by_id.get(stage_id)
            if figures is None:
                continue
            figures.entered, figures.moved_on, figures.dropped = entered, moved_on, dropped
            figures.median_days_in_stage, figures.p90_days_in_stage = _days(median), _days(p90)
        cursor.execute(_MOVES.format(where=where), [*period, *params])
        for stage_id, to_stage_id, count in cursor.fetchall():
            if stage_id in by_id:
                by_id[stage_id].moves[to_stage_id] = count
    return stages
