"""Filtering shared by the API lists: an ordering that pages never shuffle, and moments PostgreSQL accepts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters
from rest_framework.exceptions import ValidationError as ApiValidationError

from core.querystrings import GIVE_ONCE, int_id, repeated


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=-lifetime_value,last_name`, limited to the view's `ordering_fields`, with `pk` appended so that
    rows with equal values keep one order from page to page."""

    def get_ordering(self, request: Any, queryset: Any, view: Any) -> list[str] | None:
        if repeated(request.query_params, [self.ordering_param]):
            raise ApiValidationError({self.ordering_param: [GIVE_ONCE + " List several fields with commas."]})
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            # No ?ordering: the queryset keeps its own (models order by a unique key last).
            return ordering
        ordering = list(ordering)
        if not {"pk", "-pk", "id", "-id"} & set(ordering):
            ordering.append("pk")
        return ordering


# A date, "T", a time and an offset: what RFC 3339's date-time (the schema's format) requires, unlike ISO 8601.
RFC3339_TAIL = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 moment, turned to UTC: PostgreSQL refuses offsets beyond ±15:59 (+23:15 would be a 500)."""

    def to_python(self, value: Any) -> dt.datetime | None:
        if value is None:
            return None
        moment = super().to_python(value)
        if moment is None:
            # Sent empty (?updated_since=): no moment, and the schema's date-time says so.
            raise ValidationError("Give a date and time with its offset, e.g. 2026-03-01T15:00:00+01:00.",
                                  code="invalid")
        if not RFC3339_TAIL.search(str(value)):
            # What the schema says (RFC 3339's date-time): a date and a time with its offset.
            raise ValidationError("Give a date and time with its offset, e.g. 2026-03-01T15:00:00+01:00.",
                                  code="invalid")
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("This moment is out of range.", code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """django-filter's IsoDateTimeFilter, safe for any offset: use it for every `…_since`/`…_before` filter."""

    field_class = UtcIsoDateTimeField


class IdField(forms.Field):
    """A row id in a query string: ASCII digits within a bigint (core.querystrings), nothing else."""

    def to_python(self, value: Any) -> int | None:
        if value is None:
            return None
        number = int_id(value)
        if number is None:
            raise ValidationError("Give a row id (a whole number from 1).", code="invalid")
        return number


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
class IdFilter(django_filters.Filter):
    """`?boutique_id=12`: a filter on a row id, refusing "1.5", "²" or "abc" with a 400 (NumberFilter takes a
    decimal)."""

    field_class = IdField


class StrictBooleanField(forms.Field):
    """`true` or `false` (any case), as the schema's boolean says; "null", "yes" or an empty value are a 400."""

    VALUES = {"true": True, "false": False}

    def to_python(self, value: Any) -> bool | None:
        if value is None:
            return None
        if str(value).lower() not in self.VALUES:
            raise ValidationError("Give true or false.", code="invalid")
        return self.VALUES[str(value).lower()]

    def validate(self, value: Any) -> None:
        # False is a value here, not an empty one.
        return None


@extend_schema_field({"type": "boolean"})
class StrictBooleanFilter(django_filters.BooleanFilter):
    """A yes/no filter that refuses what is neither (django-filter's reads "null" as no filter)."""

    field_class = StrictBooleanField


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend, except that a typed filter sent empty (`?customer=`, `?journey_id=`) is a 400:
    django-filter would drop it and list everything, which is not what the schema's uuid or integer says. Free
    text filters (a CharFilter without choices) may be empty: they then filter nothing, as before. Every filter
    takes one value: one sent twice is a 400 too (django-filter would use the last)."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is not None:
            empty = [
                name for name, declared in filterset.filters.items()
                if type(declared) is not django_filters.CharFilter and name in request.query_params
                and "" in request.query_params.getlist(name)
            ]
            if empty:
                raise ApiValidationError({name: ["Give a value, or leave the parameter out."] for name in empty})
            twice = repeated(request.query_params, filterset.filters)
            if twice:
                raise ApiValidationError({name: [GIVE_ONCE] for name in twice})
        return super().filter_queryset(request, queryset, view)
