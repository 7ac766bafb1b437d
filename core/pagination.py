"""Pagination of the REST API: pages of a bounded size for lists, cursors for timelines and interactions."""

from __future__ import annotations

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=2&page_size=100`: 50 rows a page unless asked, never more than 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CursorPagination(pagination.CursorPagination):
    """`?cursor=…&page_size=100` over rows newest first: stable while rows arrive, and as fast on the last page as
    on the first (no OFFSET). Subclass and set `ordering` for rows that have no `occurred_at`."""

    ordering = ("-occurred_at", "-pk")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
