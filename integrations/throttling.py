"""Request rates: per API key, per staff member, per address for anonymous calls (rates in settings)."""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from core.client_address import client_address
from core.throttling import FailOpen as _FailOpen

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(_FailOpen, SimpleRateThrottle):
    """One budget per API key, whichever address or worker the calls come from."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not getattr(request.user, "is_api_key", False):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.principal_id}


class StaffRateThrottle(_FailOpen, SimpleRateThrottle):
    """One budget per staff member signed in."""

    scope = "staff"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if not user or not user.is_authenticated or getattr(user, "is_api_key", False):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class AnonymousRateThrottle(_FailOpen, AnonRateThrottle):
    """Calls without credentials (all refused with 401), per address."""

    scope = "anonymous"

    def get_ident(self, request: Request) -> str:
        # The login lockout's address (behind a proxy, the client's, not the proxy's): one rule for both.
        return client_address(request) or ""
