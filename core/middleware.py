"""Middleware the house adds to Django's."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, QueryDict

from core.api import API_PATHS, bad_request

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _holds_nul(query: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in query.lists())


class RefuseNulMiddleware:
    """A query string or form field holding NUL is a 400 (JSON under the API), before any view runs.

    PostgreSQL cannot hold or compare NUL, so a search, a filter or a lookup with one is an error in the database:
    refusing it here covers every search box, autocomplete, filter and preview at once. Only form-encoded bodies
    are read here, and not under the API, which speaks JSON (its parser, core.parsers, reads the body; a form is a
    415 there): reading a multipart body would spend the upload before the view chooses how to receive it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        has_nul = _holds_nul(request.GET) or (
            request.method == "POST" and request.content_type == FORM_CONTENT_TYPE
            and not request.path.startswith(API_PATHS) and _holds_nul(request.POST)
        )
        if has_nul:
            return bad_request(request, BadRequest("The request holds a NUL character."))
        return self.get_response(request)
