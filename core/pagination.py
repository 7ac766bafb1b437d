"""Pagination of the REST API: pages of a bounded size for lists, cursors for timelines and interactions."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

from core.querystrings import GIVE_ONCE, count, repeated


class StrictPageSizeMixin:
    """`?page_size=` is a whole number from 1, or a 400 (DRF would quietly use its default for "abc" or 1.5); a size
    above max_page_size gets max_page_size rows, as the schema says. The size, the page and the cursor are each
    given once (a repeat is a 400, not the last one quietly)."""

    page_size_query_param = "page_size"

    def get_page_size(self, request: Any) -> int:
        twice = repeated(request.query_params, [self.page_size_query_param, getattr(self, "page_query_param", None),
                                                getattr(self, "cursor_query_param", None)])
        if twice:
            raise ValidationError({name: [GIVE_ONCE] for name in twice})
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        size = count(raw)
        if size is None:
            raise ValidationError({self.page_size_query_param: ["Give a page size: a whole number from 1."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = f"Rows a page, at most {self.max_page_size} (a larger size gets that many)."
        return parameters


class PageNumberPagination(StrictPageSizeMixin, pagination.PageNumberPagination):
    """`?page=2&page_size=100`: 50 rows a page unless asked, never more than 200. `?page=` sent empty is no page
    (a 404, as `?page=abc`), not the first one."""

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        if request.query_params.get(self.page_query_param) == "":
            raise NotFound("Invalid page.")
        return super().get_page_number(request, paginator)

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CursorPagination(StrictPageSizeMixin, pagination.CursorPagination):
    """`?cursor=…&page_size=100` over rows newest first: stable while rows arrive, and as fast on the last page as
    on the first (no OFFSET). Subclass and set `ordering` for rows that have no `occurred_at`."""

    ordering = ("-occurred_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
