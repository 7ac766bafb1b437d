"""Filtering shared by the API lists: an ordering that pages never shuffle, and moments PostgreSQL accepts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from rest_framework import filters


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=-lifetime_value,last_name`, limited to the view's `ordering_fields`, with `pk` appended so that
    rows with equal values keep one order from page to page."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> list[str] | None:
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            # No ?ordering: the queryset keeps its own (models order by a unique key last).
            return ordering
        ordering = list(ordering)
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("pk")
        return ordering


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 moment, turned to UTC: PostgreSQL refuses offsets beyond ±15:59 (+23:15 would be a 500)."""

    def to_python(self, value: Any) -> dt.datetime | None:
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("This moment is out of range.", code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """django-filter's IsoDateTimeFilter, safe for any offset: use it for every `…_since`/`…_before` filter."""

    field_class = UtcIsoDateTimeField
