"""Quick "is anything listening?" checks used by the settings to pick sensible defaults."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def tcp_port_answers(host: str, port: int, *, timeout: float = 0.3) -> bool:
    """True when something accepts a TCP connection on host:port within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def broker_answers(url: str) -> bool:
    """True when the broker named by a Celery broker URL accepts connections (memory:// always does)."""
    parts = urlsplit(url)
    if parts.scheme in {"memory", ""}:
        return True
    default_ports = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671, "pyamqp": 5672}
    port = parts.port or default_ports.get(parts.scheme)
    if port is None:
        return False
    return tcp_port_answers(parts.hostname or "127.0.0.1", port)


DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"


def choose_broker(configured_url: str, *, default_url: str = DEFAULT_BROKER_URL) -> tuple[str, bool]:
    """The broker to use and whether tasks must run eagerly.

    A configured URL is used as given. Without one, the local Redis is used when it answers; otherwise tasks run
    eagerly in the calling process on an in-memory transport.
    """
    if configured_url:
        return configured_url, False
    if broker_answers(default_url):
        return default_url, False
    return "memory://", True


DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/1"


def choose_cache(configured_url: str, *, default_url: str = DEFAULT_CACHE_URL) -> dict:
    """The default cache: the configured URL (redis://, rediss://, locmem://, dummy://) as given; without one, the
    local Redis (database 1, away from the broker's) when it answers; otherwise memory in each process.

    API rate limits count in this cache: only a shared one (Redis) holds a key's budget across web workers.
    """
    url = configured_url or (default_url if broker_answers(default_url) else "locmem://")
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": "atelier"}
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": parts.netloc or "atelier"}
    if parts.scheme == "dummy":
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ValueError(f"CACHE_URL {configured_url!r}: use redis://, rediss://, locmem:// or dummy://.")
