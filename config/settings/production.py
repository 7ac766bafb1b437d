"""Production: only overrides. Misconfiguration fails at start with the name of the variable to set."""

import os

from django.core.exceptions import ImproperlyConfigured

os.environ["DEBUG"] = "false"

from .base import *  # noqa: E402,F403
from .base import SECRET_KEY, env  # noqa: E402

# PUBLIC_BASE_URL: the unsubscribe links in marketing emails and the SMS provider's signed callbacks name it; the
# localhost default would send clients links that lead nowhere.
for variable in ("DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS", "EMAIL_URL", "PUBLIC_BASE_URL"):
    if not os.environ.get(variable):
        raise ImproperlyConfigured(f"{variable} must be set in production (see README.md, Configuration).")

# The signing key of sessions, password resets and CSRF: Django's deployment check (security.W009) only warns about
# a weak one, and nobody reads warnings at start. The same bar, refused: 50 characters or more, at least 5 distinct,
# not Django's generated "django-insecure-" placeholder.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT_CHARACTERS = 5
if (
    len(SECRET_KEY) < SECRET_KEY_MIN_LENGTH
    or len(set(SECRET_KEY)) < SECRET_KEY_MIN_DISTINCT_CHARACTERS
    or SECRET_KEY.startswith("django-insecure-")
):
    raise ImproperlyConfigured(
        f"SECRET_KEY is too weak for production: give at least {SECRET_KEY_MIN_LENGTH} random characters "
        f"(e.g. python -c \"import secrets; print(secrets.token_urlsafe(64))\")."
    )

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The API answers JSON only: the browsable API's HTML pages (forms for every endpoint) are for developers' machines.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}  # noqa: F405
if BEHIND_TLS_PROXY:  # noqa: F405
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
