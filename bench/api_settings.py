"""Settings for bench/api_load.py's gunicorn: production-like (no DEBUG), the bench URLs, no throttling in the way."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("API_KEY_RATE", "100000000/min")

from config.settings.local import *  # noqa: E402,F403

DEBUG = False
ROOT_URLCONF = "bench.api_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# What the API queues after its writes (the journey rules, attribution) goes to the run's own queue namespace
# (CELERY_QUEUE_PREFIX, set by bench/api_load.py), which the script empties at the end.
