"""The rate of deliveries per source address (WEBHOOK_RATE), counted in the shared cache as the API's throttles are."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.throttling import FailOpen


class WebhookRateThrottle(FailOpen, SimpleRateThrottle):
    """One budget per source address, forged deliveries included: a flood is refused (429) before it is read or
    recorded. The address is read as the API's throttles read it (DRF's get_ident) when REST_FRAMEWORK's
    NUM_PROXIES says how many proxies to trust, else it is the peer's own address (REMOTE_ADDR)."""

    scope = "webhook"

    def get_rate(self) -> str:
        return settings.WEBHOOK_RATE

    def get_ident(self, request: Any) -> str:
        if api_settings.NUM_PROXIES is None:
            # DRF would then take X-Forwarded-For as sent: a sender could write a new one per delivery.
            return request.META.get("REMOTE_ADDR", "")
        return super().get_ident(request)

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
