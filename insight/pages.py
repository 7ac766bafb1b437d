"""The journey map page of the staff site, /admin/insight/: the period and the slices in the URL (bookmarkable),
a Sankey of the moves drawn by ECharts (vendored, insight/static/insight/vendor/echarts), the table of the same
numbers beside it, each number a link to the client list filtered to exactly those clients, and a CSV of exactly
what the table shows (?format=csv). Scoped like everything else (insight.selectors.scope)."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from customers.models import Advisor, Boutique, Persona, ValueTier
from insight.api.serializers import FigureQuerySerializer
from insight.selectors.client_sets import stage_set_value
from insight.selectors.journey_map import StageFigures, journey_funnel, overall_conversion
from insight.selectors.scope import Slices, insight_scope
from journeys.models import Journey

MEASURES = [("entered", "Entered"), ("moved_on", "Moved on"), ("dropped", "Dropped"), ("in_stage", "Still in stage")]
VIEW_PERMISSION = "customers.view_customer"


def _default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last 90 days, today included."""
    return today - dt.timedelta(days=89), today


def _shifted(slices: Slices, *, days: int | None = None, years: int = 0) -> Slices:
    if years:
        def back(day: dt.date) -> dt.date:
            try:
                return day.replace(year=day.year - years)
            except ValueError:  # 29 February
                return day.replace(year=day.year - years, day=28)
        since, until = back(slices.since), back(slices.until)
    else:
        since, until = slices.since - dt.timedelta(days=days), slices.until - dt.timedelta(days=days)
    return Slices(since=since, until=until, boutique_id=slices.boutique_id, advisor_id=slices.advisor_id,
                  persona_id=slices.persona_id, value_tier=slices.value_tier)


def _rows(stages: list[StageFigures], slices: Slices, list_url: str) -> list[dict[str, Any]]:
    rows = []
    for stage in stages:
        cells = []
        for measure, _ in MEASURES:
            value = stage_set_value(stage_id=stage.stage, measure=measure, slices=slices)
            cells.append({"measure": measure, "count": getattr(stage, measure),
                          "url": f"{list_url}?{urlencode({'client_set': value, 'client_book': 'all'})}"})
        rows.append({"stage": stage, "cells": cells})
    return rows


def journey_map_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    journeys = list(Journey.objects.filter(is_active=True).order_by("name"))
    query = request.GET.copy()
    since, until = _default_period(timezone.localdate())
    query.setdefault("since", since.isoformat())
    query.setdefault("until", until.isoformat())
    journey_id = query.pop("journey", [None])[-1] if len(query.getlist("journey")) <= 1 else "twice"
    wants_csv = query.pop("format", [""])[-1] == "csv"
    serializer = FigureQuerySerializer(data=query)
    journey = next((j for j in journeys if str(j.pk) == journey_id), journeys[0] if journeys and not journey_id
                   else None)
    errors = {} if serializer.is_valid() else serializer.errors
    if journey_id and journey is None:
        errors["journey"] = ["Choose one of the journeys listed."]
    context: dict[str, Any] = {**admin.site.each_context(request), "title": "Journey map", "journeys": journeys,
                               "journey": journey, "errors": errors, "query": query,
                               "tiers": ValueTier.choices, "measures": MEASURES}
    scope = insight_scope(request.user)
    context["boutiques"] = [] if scope.boutique_ids is not None else list(Boutique.objects.order_by("name"))
    context["advisors"] = [] if scope.advisor_id is not None else list(
        Advisor.objects.visible_to(request.user).exclude(role=Advisor.Role.HEAD_OFFICE).select_related("user")
    )
    context["personas"] = list(Persona.objects.order_by("name"))
    if errors or journey is None:
        return TemplateResponse(request, "insight/journey_map.html", context, status=400 if errors else 200)
    slices = serializer.slices()
    stages = journey_funnel(journey=journey, slices=slices, scope=scope)
    previous = journey_funnel(journey=journey, slices=_shifted(slices, days=(slices.until - slices.since).days + 1),
                              scope=scope)
    last_year = journey_funnel(journey=journey, slices=_shifted(slices, years=1), scope=scope)
    if wants_csv:
        return _csv(journey, slices, stages, previous, last_year)
    list_url = reverse("admin:customers_customer_changelist")
    context.update({
        "slices": slices, "rows": _rows(stages, slices, list_url),
        "comparisons": [
            {"label": "Previous period", "stages": previous},
            {"label": "Same period last year", "stages": last_year},
        ],
        "overall_conversion": overall_conversion(stages),
        "chart": {
            "stages": [{"id": s.stage, "name": s.name, "entered": s.entered, "dropped": s.dropped,
                        "in_stage": s.in_stage} for s in stages],
            "moves": [{"from": s.stage, "to": to_stage, "clients": count}
                      for s in stages for to_stage, count in sorted(s.moves.items())],
        },
        "csv_query": urlencode({**{k: v for k, v in query.items()}, "journey": journey.pk, "format": "csv"}),
    })
    return TemplateResponse(request, "insight/journey_map.html", context)


def _csv(journey: Journey, slices: Slices, stages, previous, last_year) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="journey-map-{journey.slug}-{slices.since}-{slices.until}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["stage", "target_days", "entered", "moved_on", "dropped", "in_stage", "conversion",
                     "median_days_in_stage", "p90_days_in_stage", "entered_previous_period",
                     "entered_same_period_last_year"])
    for stage, before, year_before in zip(stages, previous, last_year, strict=True):
        writer.writerow([stage.name, stage.target_days, stage.entered, stage.moved_on, stage.dropped,
                         stage.in_stage, stage.conversion, stage.median_days_in_stage, stage.p90_days_in_stage,
                         before.entered, year_before.entered])
    return response
