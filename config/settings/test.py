"""Test settings: the local PostgreSQL server when one answers on 127.0.0.1:5432, else the embedded one."""

import os
import uuid

from config.probes import tcp_port_answers

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-that-is-long-enough-for-django-checks-0123456789")
if not os.environ.get("DATABASE_URL") and tcp_port_answers("127.0.0.1", 5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/atelier"
# Each test run has its own queues on the shared broker: what it queues never reaches a demo's or another run's
# worker (the workers the tests start are given this prefix, tests/conftest.py).
os.environ.setdefault("CELERY_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:12]}")

from .base import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Each test process keeps its own cache, so that rate limits counted by one run never reach another run on the same
# Redis; the tests of the shared cache point at Redis themselves.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
# Tests run tasks in-process unless a test starts a real worker (tests/conftest.py: celery_worker).
CELERY_TASK_ALWAYS_EAGER = True
TESTING = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Results travel through Redis so that broker tests can wait for what a real worker returned.
CELERY_RESULT_BACKEND = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else None  # noqa: F405
# Close connections at the end of each request: the live server's request threads would otherwise hold the test
# database open when pytest drops it.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# No holdout unless a test asks for one: with the house's 10 %, one client in ten of any test would get a held-out
# follow-up instead of the one the test expects, depending on the database ids of the run.
FOLLOWUP_HOLDOUT_PERCENT = 0
