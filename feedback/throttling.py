"""The rate of requests to the public survey page per client address (SURVEY_PAGE_RATE), counted in the shared cache
as the API's and the webhooks' throttles are, and failing open when that cache does not answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.client_address import client_address
from core.throttling import FailOpen


class SurveyPageRateThrottle(FailOpen, SimpleRateThrottle):
    """One budget per client address, whatever the token: guessing tokens is slowed with the rest. The address is the
    one the login lockout uses (core.client_address: behind a trusted proxy the client's)."""

    scope = "survey_page"

    def get_rate(self) -> str:
        return settings.SURVEY_PAGE_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request) or ""}
