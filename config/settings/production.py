"""Production: only overrides. Misconfiguration fails at start with the name of the variable to set."""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ["DEBUG"] = "false"

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

for variable in ("DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS", "EMAIL_URL"):
    if not os.environ.get(variable):
        raise ImproperlyConfigured(f"{variable} must be set in production (see README.md, Configuration).")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
