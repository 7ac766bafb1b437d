"""What every rate limit shares: counted in the shared cache, and failing open when that cache does not answer."""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError


class FailOpen:
    """A rate limit is a guard, not a gate: when the shared cache does not answer, the call goes through (and the
    outage is logged, under the limit's own app) rather than every call failing with a 500.

    Mixed in before a DRF throttle (SimpleRateThrottle), whose `allow_request` it guards.
    """

    scope: str

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except (RedisError, OSError) as error:
            app = type(self).__module__.split(".")[0]
            logging.getLogger(type(self).__module__).warning(
                "%s.throttle_cache_unavailable scope=%s error=%s", app, self.scope, error
            )
            return True
