"""One JSON error format for every 4xx the API returns: {"message": ..., "extra": {...}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render ApplicationError, Django and DRF errors in the shared format; leave 5xx to Django."""
    if isinstance(exc, ApplicationError):
        return Response({"message": exc.message, "extra": exc.extra}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        exc = _throttled_instead(exc, context)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"message": "The request is invalid.", "extra": {"fields": detail}}
    else:
        response.data = {"message": str(getattr(exc, "detail", exc)), "extra": {}}
    return response


def _throttled_instead(exc: exceptions.APIException, context: dict[str, Any]) -> exceptions.APIException:
    """A call refused for its credentials (none, or a wrong key) still counts against the view's rates.

    DRF checks permissions before rates, so without this the anonymous rate would never count a call (every one is
    refused with 401 first) and a key could be guessed at any speed. Past the rate, the answer is 429.
    """
    view, request = context.get("view"), context.get("request")
    if view is None or request is None:
        return exc
    try:
        view.check_throttles(request)
    except exceptions.Throttled as throttled:
        return throttled
    return exc


API_PATHS = ("/api/", "/webhooks/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for an address no view answers. Under /api/ and /webhooks/ it is the API's JSON error (an integration
    parses every 4xx the same way); elsewhere Django's page."""
    if request.path.startswith(API_PATHS):
        return JsonResponse({"message": "Not found.", "extra": {}}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 raised before any view runs (a body with too many fields, a bad Host): JSON under the API as well."""
    if request.path.startswith(API_PATHS):
        return JsonResponse({"message": "The request is malformed.", "extra": {}}, status=400)
    return defaults.bad_request(request, exception)
