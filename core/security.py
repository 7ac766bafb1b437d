"""The Content-Security-Policy header on every response (settings.CONTENT_SECURITY_POLICY).

Django 5.2 has no CSP of its own. Every script and style sheet is served from our static files (the admin, Swagger UI
and Redoc from drf-spectacular-sidecar, the browsable API), so scripts may come from this origin only and no CDN is
allowed; inline styles stay allowed, as the admin's, Redoc's and the email previews' markup needs them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to responses that do not set a policy of their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and HEADER not in response:
            response[HEADER] = policy
        return response
