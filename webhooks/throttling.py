"""The rate of deliveries per source address (WEBHOOK_RATE), counted in the shared cache as the API's throttles are."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.client_address import client_address
from core.throttling import FailOpen


class WebhookRateThrottle(FailOpen, SimpleRateThrottle):
    """One budget per source address, forged deliveries included: a flood is refused (429) before it is read or
    recorded. The address is the one the login lockout and the API's anonymous rate use (core.client_address:
    behind a trusted proxy the client's, never an X-Forwarded-For the sender wrote itself)."""

    scope = "webhook"

    def get_rate(self) -> str:
        return settings.WEBHOOK_RATE

    def get_ident(self, request: Any) -> str:
        return client_address(request) or ""

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
