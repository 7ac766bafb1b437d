"""Rate limits count in the shared cache (Redis), so every web worker sees the same budget for a key."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings

from config.probes import choose_cache
from integrations.throttling import ApiKeyRateThrottle
from tests.api.conftest import key_client
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

REDIS_CACHE_URL = "redis://127.0.0.1:6379/1"


def calls_seen_by_another_process(cache_key: str) -> int:
    """How many calls a separate Python process (another web worker) finds counted under the key."""
    script = (
        "import django; django.setup()\n"
        "from django.core.cache import cache\n"
        f"print(len(cache.get({cache_key!r}) or []))\n"
    )
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CACHE_URL": REDIS_CACHE_URL,
        "DATABASE_URL": f"postgres://{database['USER'] or 'postgres'}@{database['HOST']}:{database['PORT'] or 5432}/"
                        f"{database['NAME']}",
        "SECRET_KEY": "test-subprocess-secret-key-long-enough-0123456789-abcdefghijklmnop",
    }
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    )
    return int(completed.stdout.strip().splitlines()[-1])


@pytest.mark.broker
def test_a_keys_calls_are_counted_where_every_worker_sees_them(monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    with override_settings(CACHES={"default": choose_cache(REDIS_CACHE_URL)}):
        client, api_key = key_client(scopes=["customers:write"])
        cache_key = ApiKeyRateThrottle.cache_format % {"scope": "api_key", "ident": f"key:{api_key.prefix}"}

        statuses = [client.post("/test/personas/", {"name": f"P{n}"}, format="json").status_code for n in range(2)]

        assert statuses == [201, 201]
        assert calls_seen_by_another_process(cache_key) == 2
        assert client.post("/test/personas/", {"name": "P3"}, format="json").status_code == 201
        assert client.post("/test/personas/", {"name": "P4"}, format="json").status_code == 429


def test_when_the_cache_does_not_answer_calls_go_through_and_the_outage_is_logged(caplog):
    # Port 9 (discard) has no Redis: every cache call fails.
    with override_settings(CACHES={"default": choose_cache("redis://127.0.0.1:9/1")}):
        client, _ = key_client(scopes=["customers:write"])
        with caplog.at_level(logging.WARNING, logger="integrations.throttling"):
            response = client.post("/test/personas/", {"name": "Gifter"}, format="json")

    assert response.status_code == 201
    assert "integrations.throttle_cache_unavailable scope=api_key" in caplog.text


def test_the_cache_is_chosen_from_cache_url_else_local_redis_else_memory():
    assert choose_cache("redis://cache.internal:6380/2") == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://cache.internal:6380/2",
        "KEY_PREFIX": "atelier",
    }
    assert choose_cache("", default_url="redis://127.0.0.1:9/1")["BACKEND"].endswith("LocMemCache")
    assert choose_cache("dummy://")["BACKEND"].endswith("DummyCache")
    with pytest.raises(ValueError, match="CACHE_URL 'memcached://x'"):
        choose_cache("memcached://x")
