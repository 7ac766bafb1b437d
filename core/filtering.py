"""Ordering of API lists that pages never shuffle: the primary key breaks every tie."""

from __future__ import annotations

from typing import Any

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
