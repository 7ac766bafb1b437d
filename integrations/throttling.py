"""Request rates: per API key, per staff member, per address for anonymous calls (rates in settings)."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from core.client_address import client_address

logger = logging.getLogger(__name__)


class _FailOpen:
    """A rate limit is a guard, not a gate: when the shared cache does not answer, the call goes through (and the
    outage is logged) rather than every call of every integration failing with a 500."""

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as error:
            logger.warning("integrations.throttle_cache_unavailable scope=%s error=%s", self.scope, error)
            return True


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
