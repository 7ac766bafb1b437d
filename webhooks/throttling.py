"""The rate of deliveries per source address (WEBHOOK_RATE), counted in the shared cache as the API's throttles are."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.throttling import FailOpen


class WebhookRateThrottle(FailOpen, SimpleRateThrottle):
    """One budget per source address, forged deliveries included: a flood is refused (429) before it is read or
    recorded. The address is read as the API's throttles read it (DRF's get_ident)."""

    scope = "webhook"

    def get_rate(self) -> str:
        return settings.WEBHOOK_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
