"""Filters over survey answers, for the API's list (and the admin's, should it want them)."""

from __future__ import annotations

import django_filters

from core.filtering import IdFilter, IsoDateTimeFilter
from feedback.models import Response


class ResponseFilterSet(django_filters.FilterSet):
    """Answers by survey, the client's boutique and advisor, NPS class, source and period."""

    survey_id = IdFilter(field_name="survey_id", label="Survey (id)")
    boutique_id = IdFilter(field_name="customer__home_boutique_id", label="The client's boutique (id)")
    advisor_id = IdFilter(field_name="customer__advisor_id", label="The client's advisor (id)")
    nps_class = django_filters.ChoiceFilter(choices=Response.NpsClass.choices, label="NPS class")
    customer = django_filters.UUIDFilter(field_name="customer__public_id", label="Client (public id)")
    source = django_filters.ChoiceFilter(choices=Response.Source.choices, label="Source")
    external_id = django_filters.CharFilter(label="External id (with source)")
    responded_since = IsoDateTimeFilter(field_name="responded_at", lookup_expr="gte", label="Answered at or after")
    responded_before = IsoDateTimeFilter(field_name="responded_at", lookup_expr="lt", label="Answered before")

    class Meta:
        model = Response
        fields: list[str] = []
