"""Filters over enrollments, for the API's lists."""

from __future__ import annotations

import django_filters

from core.filtering import IdFilter, IsoDateTimeFilter, StrictBooleanFilter
from journeys.models import Enrollment


class EnrollmentFilterSet(django_filters.FilterSet):
    """Enrollments by journey, current stage, client and whether the client is still in the journey."""

    journey_id = IdFilter(field_name="journey_id", label="Journey (id)")
    stage_id = IdFilter(field_name="stage_id", label="Current stage (id)")
    stage = django_filters.CharFilter(field_name="stage__key", label="Current stage (key)")
    customer = django_filters.UUIDFilter(field_name="customer__public_id", label="Client (public id)")
    is_active = StrictBooleanFilter(field_name="exited_at", lookup_expr="isnull", label="Still in the journey")
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated at or after"
    )

    class Meta:
        model = Enrollment
        fields: list[str] = []
