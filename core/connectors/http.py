"""JSON over HTTP for connectors, with bounded retries of what may pass: exponential backoff with full jitter,
and the server's own Retry-After on 429 and 503."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from core.connectors.base import MalformedPage, PermanentError, TransientError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again. `max_attempts` counts the first try."""

    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    # A server asking for more than this is treated as down for now: the run stops and the next one resumes.
    retry_after_cap_seconds: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)], so that the workers
        that failed together do not come back together."""
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))  # noqa: S311


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())


class HttpClient:
    """One connector's HTTP client for one run: base URL, auth headers, time-out and retry policy.

    `request_json` returns the decoded body or raises TransientError (retries exhausted), PermanentError (4xx
    but 408 and 429) or MalformedPage (a 2xx body that is not JSON). `retries` counts the tries that failed and
    were tried again, for the run log.
    """

    def __init__(
        self,
        *,
        base_url: str,
        headers: dict[str, str] | None = None,
        timeout_seconds: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.retries = 0
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        where = f"{method} {path}"
        for attempt in range(self.policy.max_attempts):
            try:
                response = self._client.request(method, path, params=params, json=body, headers=headers)
            except httpx.TimeoutException as exc:
                error = TransientError(f"{where}: no answer in time ({type(exc).__name__}).")
            except httpx.TransportError as exc:
                error = TransientError(f"{where}: connection failed ({type(exc).__name__}: {exc}).")
            else:
                error = self._check(where, response)
                if error is None:
                    return self._decode(where, response)
            if attempt + 1 >= self.policy.max_attempts:
                raise TransientError(f"{error} Gave up after {self.policy.max_attempts} attempts.",
                                     retry_after=error.retry_after)
            wait = self.policy.backoff(attempt)
            if error.retry_after is not None:
                if error.retry_after > self.policy.retry_after_cap_seconds:
                    raise TransientError(f"{error} The server asks to wait {error.retry_after:.0f} s: stopping here.",
                                         retry_after=error.retry_after)
                # At least what the server asked for, plus jitter so that waiting workers do not return together.
                wait = error.retry_after + random.uniform(0, self.policy.base_seconds)  # noqa: S311
            self.retries += 1
            logger.warning("connectors.retry where=%s attempt=%s wait=%.2f reason=%s", where, attempt + 1, wait, error)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _check(where: str, response: httpx.Response) -> TransientError | None:
        status = response.status_code
        if status < 400:
            return None
        if status in (429, 503):
            return TransientError(f"{where} answered {status}.",
                                  retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500 or status == 408:
            return TransientError(f"{where} answered {status}.")
        raise PermanentError(f"{where} answered {status}: {response.text[:300]}", status=status)

    @staticmethod
    def _decode(where: str, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            raise MalformedPage(f"{where} answered {response.status_code} with a body that is not JSON.",
                                body=response.text) from None
