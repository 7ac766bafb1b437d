"""Settings shared by every environment. Everything that varies is read from the environment here.

`local.py`, `test.py` and `production.py` only set defaults or override; see README.md for every variable.
"""

from __future__ import annotations

import sys
from datetime import time as _time
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.probes import choose_broker, choose_cache
from config.queues import queue_name, queue_prefix

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable (required when DEBUG is off)."
        )
    SECRET_KEY = "django-insecure-atelier-local-development-only-never-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "desk.apps.AtelierAdminConfig",  # django.contrib.admin with the advisor's day as its index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc from our static files: the docs page needs no internet
    "django_filters",
    "import_export",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "axes",
    "django_celery_beat",
    "core",
    "customers",
    "touchpoints",
    "journeys",
    "feedback",
    "desk",
    "imports",
    "integrations",
    "webhooks",
    "sync",
    "insight",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A query string or form field holding NUL (which PostgreSQL cannot compare) is a 400 before any view.
    "core.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.security.ContentSecurityPolicyMiddleware",  # CONTENT_SECURITY_POLICY, below
    # Attaches the staff member and the URL to every history row a request writes.
    "pghistory.middleware.HistoryMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# --- Content-Security-Policy (core.security) ---------------------------------------------------------------
# Scripts, styles, fonts and images from our own static files only (no CDN); inline styles allowed (the admin's and
# Redoc's markup, email previews), inline scripts not. Redoc's search runs in a worker started from a blob: URL.
CONTENT_SECURITY_POLICY = env.str("CONTENT_SECURITY_POLICY", default=(
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
))
# --- end of Content-Security-Policy -------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Staff logins: locked for AXES_COOLOFF_MINUTES after AXES_FAILURE_LIMIT failures for one username from one address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# --- Client address behind a proxy (core.client_address): the lockout's and the anonymous API rate's address. ----
# Behind a TLS proxy, REMOTE_ADDR is the proxy: the client's address is read from X-Forwarded-For, the entry
# TRUSTED_PROXY_COUNT places from the right (each trusted proxy appends one). Without a proxy the header is ignored.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
if TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT is {TRUSTED_PROXY_COUNT}; give the number of proxies, 1 or more.")
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
# --- end of client address ----------------------------------------------------------------------------------

# Staff sessions end after SESSION_IDLE_HOURS without a request, and when the browser closes.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_HOURS", default=8) * 60 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL only. DATABASE_URL, else the embedded server in var/pgdata. ---------------------
DATABASE_URL = env.str("DATABASE_URL", default="")


def database_settings(url: str) -> dict:
    """A DATABASES entry from DATABASE_URL, or from the embedded PostgreSQL when the URL is empty."""
    if not url:
        from config.embedded_postgres import embedded_database_settings

        config = embedded_database_settings(VAR_DIR / "pgdata")
    else:
        config = environ.Env.db_url_config(url)
        if config["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured(
                f"DATABASE_URL names {config['ENGINE']!r}; Atelier runs on PostgreSQL only (postgres://…)."
            )
    config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {"default": database_settings(DATABASE_URL)}
# The same database on a connection of its own: an import running in a worker reports its progress through it,
# outside the import's transaction (which holds every write until the end), so the admin can show it meanwhile.
# Opened only while such an import runs, and closed after it (CONN_MAX_AGE 0).
IMPORTS_PROGRESS_DATABASE = "imports_progress"
DATABASES[IMPORTS_PROGRESS_DATABASE] = {**DATABASES["default"], "CONN_MAX_AGE": 0, "TEST": {"MIRROR": "default"}}
# Analytics and exports may read from a replica (core.db.analytics_database); writes always go to default.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {**database_settings(DATABASE_REPLICA_URL), "TEST": {"MIRROR": "default"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages clients are written to and shown the survey page in (Customer.language); staff pages stay English.
LANGUAGES = [("en", "English"), ("fr", "Français"), ("it", "Italiano")]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

# --- Email: EMAIL_URL such as smtp+tls://user:password@smtp.example.com:587 or consolemail:// --------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Atelier <clienteling@atelier.example>")
# Seconds an SMTP call may take: a hung server must not hold a follow-up past its sending lease (below).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Money: the house reports in one currency; orders keep their own and are converted at record time. ---
HOUSE_CURRENCY = env.str("HOUSE_CURRENCY", default="EUR")
# Units of house currency per unit of each currency. Override with CURRENCY_RATES="USD=0.92,GBP=1.17".
CURRENCY_RATES = {
    "EUR": Decimal("1"),
    "USD": Decimal("0.92"),
    "GBP": Decimal("1.17"),
    "CHF": Decimal("1.05"),
    "JPY": Decimal("0.0062"),
    "AED": Decimal("0.25"),
    "HKD": Decimal("0.118"),
    "SGD": Decimal("0.68"),
    "CNY": Decimal("0.127"),
}
CURRENCY_RATES.update({code: Decimal(rate) for code, rate in env.dict("CURRENCY_RATES", default={}).items()})

# --- Cache: CACHE_URL, else Redis on localhost when it answers, else memory in each process. ---------------------
# API rate limits live here: with memory per process, each web worker would count a key's calls apart.
CACHES = {"default": choose_cache(env.str("CACHE_URL", default=""))}

# --- Celery: CELERY_BROKER_URL, else Redis on localhost when it answers, else tasks run eagerly. ----------
# With no broker, tasks run in the calling process and core.checks warns about it on every start.
CELERY_BROKER_URL, CELERY_TASK_ALWAYS_EAGER = choose_broker(env.str("CELERY_BROKER_URL", default=""))
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60)}
CELERY_TIMEZONE = TIME_ZONE
# --- Celery queues: one namespace per installation (config/queues.py) ---------------------------------------
# Every queue is "<prefix>.<name>"; the prefix defaults to one derived from the database (name, host, port), so that
# a demo, a benchmark and the tests on one broker never take each other's tasks. Workers also refuse a task stamped
# for another database (config.celery).
CELERY_QUEUE_PREFIX = env.str("CELERY_QUEUE_PREFIX", default="") or queue_prefix(DATABASES["default"])
CELERY_TASK_DEFAULT_QUEUE = queue_name(CELERY_QUEUE_PREFIX, "default")
# --- end of Celery queues -----------------------------------------------------------------------------------
# Beat reads its schedule from the database (django-celery-beat): connector syncs are edited in the admin; the
# entries below are copied into it when beat starts, so they are scheduled too.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic tasks are declared here, in code; exactly one beat runs them (see README "Scaling out").
CELERY_BEAT_SCHEDULE = {
    "refresh-client-metrics-nightly": {
        "task": "touchpoints.tasks.customer_metrics_refresh_all_task",
        "schedule": 24 * 60 * 60,
    },
    "purge-idempotency-keys-nightly": {
        "task": "core.tasks.idempotent_requests_purge_task",
        "schedule": 24 * 60 * 60,
    },
    # Every minute, so that a run whose worker died is queued again at most a minute after SYNC_STALLED_MINUTES.
    "sync-resume-stalled-runs": {
        "task": "sync.tasks.sync_runs_resume_task",
        "schedule": 60,
    },
    "purge-import-uploads-nightly": {
        "task": "imports.tasks.import_uploads_purge_task",
        "schedule": 24 * 60 * 60,
    },
    "purge-webhook-deliveries-nightly": {
        "task": "webhooks.tasks.webhook_deliveries_purge_task",
        "schedule": 24 * 60 * 60,
    },
    # Service-recovery cases whose first contact is overdue are escalated to the boutique manager.
    "escalate-overdue-recovery-cases": {
        "task": "feedback.tasks.recovery_cases_escalate_task",
        "schedule": 5 * 60,
    },
    "dispatch-due-followups-every-minute": {
        "task": "journeys.tasks.followups_dispatch_task",
        "schedule": 60,
    },
    # Time-based journey rules (inactivity, time in stage, dates coming up); idempotent, so a run more is harmless.
    "journey-time-rules": {
        "task": "journeys.tasks.rules_apply_time_based_task",
        "schedule": 6 * 60 * 60,
    },
    # Insight's rollups, rewritten for every client touched in the last INSIGHT_RECONCILE_DAYS (late data).
    "insight-reconcile-nightly": {
        "task": "insight.tasks.rollups_reconcile_task",
        "schedule": 24 * 60 * 60,
    },
    # Foresight: the model is refitted weekly (with its holdout calibration); every client is scored daily.
    "foresight-refit-weekly": {
        "task": "insight.tasks_predictions.predictions_refit_task",
        "schedule": 7 * 24 * 60 * 60,
    },
    "foresight-score-daily": {
        "task": "insight.tasks_predictions.predictions_score_task",
        "schedule": 24 * 60 * 60,
    },
    # Alerts: yesterday's figures of every boutique and the house, once a day.
    "alerts-evaluate-daily": {
        "task": "insight.tasks_predictions.alerts_evaluate_task",
        "schedule": 24 * 60 * 60,
    },
}

# --- Insight ------------------------------------------------------------------------------------------------------
# The nightly reconciliation rewrites the rollups of every client whose orders or stages were written this many days
# back: a sync catching up, an import, a bulk load that called no hook.
INSIGHT_RECONCILE_DAYS = env.int("INSIGHT_RECONCILE_DAYS", default=3)
# Clients whose rollups one refresh task rewrites (a commit that changed more queues several).
INSIGHT_REFRESH_BATCH_SIZE = env.int("INSIGHT_REFRESH_BATCH_SIZE", default=1000)

# --- Foresight (insight: predicted value and churn risk) ---------------------------------------------------------
# The model is used only when the house has this many clients who bought on two days or more...
INSIGHT_MIN_REPEAT_BUYERS = env.int("INSIGHT_MIN_REPEAT_BUYERS", default=100)
# ... and this many days between its first recorded purchase and the fit; otherwise the RFM estimate, said as such.
INSIGHT_MIN_HISTORY_DAYS = env.int("INSIGHT_MIN_HISTORY_DAYS", default=180)
# The last months each fit holds out to measure its calibration (predicted against actual purchases per decile).
INSIGHT_HOLDOUT_MONTHS = env.int("INSIGHT_HOLDOUT_MONTHS", default=3)
# After an alert on a figure, the same figure of the same boutique raises nothing new for this many days...
ALERT_COOLDOWN_DAYS = env.int("ALERT_COOLDOWN_DAYS", default=7)
# ... and a dismissed alert keeps the same kind (drop, rise, drift) on that figure quiet for this many.
ALERT_DISMISS_SUPPRESS_DAYS = env.int("ALERT_DISMISS_SUPPRESS_DAYS", default=30)

# --- Journey rules ------------------------------------------------------------------------------------------------
# A stage move by staff is not undone by a rule for this many days (0: rules may move the client at once).
JOURNEY_MANUAL_GRACE_DAYS = env.int("JOURNEY_MANUAL_GRACE_DAYS", default=14)
# An interaction older than this when the rules see it (a late sync, an import that opts in) may still move the
# client, but schedules no follow-up: a thank-you weeks after the purchase is worse than none.
JOURNEY_FOLLOWUP_MAX_AGE_DAYS = env.int("JOURNEY_FOLLOWUP_MAX_AGE_DAYS", default=7)
# Interactions per rule-evaluation task: a commit that recorded more queues several tasks.
JOURNEY_RULES_BATCH_SIZE = env.int("JOURNEY_RULES_BATCH_SIZE", default=500)

# --- REST API under /api/v1/: staff by session, integrations by API key (integrations app). --------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that an anonymous call gets 401 with "WWW-Authenticate: Api-Key" (not 403).
        "integrations.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.permissions.ApiPermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "core.filtering.StrictFilterBackend",
        "core.filtering.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # The API speaks JSON: a form-encoded or multipart body is a 415 in the error format, not a guess.
    # Bounds nesting, refuses lone surrogates and non-finite numbers: a 400, where json.loads would let a 500 through.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.HouseJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "integrations.throttling.ApiKeyRateThrottle",
        "integrations.throttling.StaffRateThrottle",
        "integrations.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env.str("API_KEY_RATE", default="6000/min"),
        "staff": env.str("API_STAFF_RATE", default="1200/min"),
        "anonymous": env.str("API_ANONYMOUS_RATE", default="60/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# A POST retried with the same Idempotency-Key within this many days gets the first response back.
IDEMPOTENCY_KEEP_DAYS = env.int("IDEMPOTENCY_KEEP_DAYS", default=7)

# An interaction's metadata, as compact JSON in UTF-8, holds at most this many bytes (touchpoints.services).
INTERACTION_METADATA_MAX_BYTES = env.int("INTERACTION_METADATA_MAX_BYTES", default=16 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier API",
    "DESCRIPTION": (
        "Clients, their timeline, touchpoints, orders and journeys. Integrations authenticate with "
        "`Authorization: Api-Key <key>` (keys are created in the admin); staff with their admin session. "
        "POSTs accept an `Idempotency-Key` header. Every 4xx is `{\"message\": ..., \"extra\": {...}}`."
    ),
    "VERSION": "v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.document_error_responses",
        "core.schema.document_server_rules",
    ],
    # One name per choice set shared by several fields (a source system is an order's source and a client's system).
    "ENUM_NAME_OVERRIDES": {
        "SourceSystemEnum": "customers.models.SourceSystem",
        "OrderStatusEnum": "touchpoints.models.Order.Status",
        "BulkItemStatusEnum": "touchpoints.services.bulk.ItemStatus.CHOICES",
        "ResponseSourceEnum": "feedback.models.Response.Source",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # pgserver narrates every start and stop of the embedded PostgreSQL at INFO; its warnings still show.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}

# Uploads up to this size are previewed and imported in the admin's request; larger ones run as a Celery task.
IMPORT_INLINE_MAX_BYTES = env.int("IMPORT_INLINE_MAX_BYTES", default=2 * 1024 * 1024)
# Processes that clean the rows of a large import file while the main one writes (0: none); default one per core
# but one.
IMPORT_WORKERS = env.int("IMPORT_WORKERS", default=None)
# Uploaded import files are deleted this many days after their batch finished (the batch's record stays).
IMPORT_UPLOADS_KEEP_DAYS = env.int("IMPORT_UPLOADS_KEEP_DAYS", default=30)
# A run in the admin's request (the preview or import of a small upload, and reading its columns) stops after this.
IMPORT_INLINE_MAX_SECONDS = env.float("IMPORT_INLINE_MAX_SECONDS", default=30.0)
# What an Excel workbook may declare or hold on its first sheet (rows, columns, rows x columns); beyond, refused.
IMPORT_WORKBOOK_MAX_ROWS = env.int("IMPORT_WORKBOOK_MAX_ROWS", default=1_048_576)
IMPORT_WORKBOOK_MAX_COLUMNS = env.int("IMPORT_WORKBOOK_MAX_COLUMNS", default=1024)
IMPORT_WORKBOOK_MAX_CELLS = env.int("IMPORT_WORKBOOK_MAX_CELLS", default=25_000_000)

# Ecommerce webhooks (POST /webhooks/shopify/, /webhooks/woocommerce/): the shared secret each platform signs with.
# Empty: that endpoint refuses every delivery (401, recorded as rejected).
SHOPIFY_WEBHOOK_SECRET = env.str("SHOPIFY_WEBHOOK_SECRET", default="")
WOOCOMMERCE_WEBHOOK_SECRET = env.str("WOOCOMMERCE_WEBHOOK_SECRET", default="")
# Typeform's webhook secret (Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>).
TYPEFORM_WEBHOOK_SECRET = env.str("TYPEFORM_WEBHOOK_SECRET", default="")
# The generic survey endpoint's Standard Webhooks secret: whsec_ followed by base64.
SURVEY_WEBHOOK_SECRET = env.str("SURVEY_WEBHOOK_SECRET", default="")
# Deliveries accepted per source address (forged ones included), counted in the shared cache; beyond, 429.
WEBHOOK_RATE = env.str("WEBHOOK_RATE", default="1200/min")
# The delivery log is purged nightly of deliveries older than this (failed ones, and each record's newest applied
# version, stay).
WEBHOOK_DELIVERIES_KEEP_DAYS = env.int("WEBHOOK_DELIVERIES_KEEP_DAYS", default=90)

# Region for phone numbers typed without a country code when no boutique tells (ISO 3166-1 alpha-2).
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="FR")

# --- Follow-ups (journeys.services.dispatch) -------------------------------------------------------------
# SMS: "console" (the demo: messages are logged) or "twilio" (a Twilio-style HTTP API; the four SMS_* below).
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_API_URL = env.str("SMS_API_URL", default="https://api.twilio.com")
SMS_ACCOUNT_SID = env.str("SMS_ACCOUNT_SID", default="")
SMS_AUTH_TOKEN = env.str("SMS_AUTH_TOKEN", default="")
SMS_FROM = env.str("SMS_FROM", default="")
SMS_TIMEOUT_SECONDS = env.float("SMS_TIMEOUT_SECONDS", default=10.0)
if SMS_BACKEND not in ("console", "twilio"):
    raise ImproperlyConfigured(f"SMS_BACKEND is {SMS_BACKEND!r}; use console or twilio.")
if SMS_BACKEND == "twilio":
    _sms = {"SMS_API_URL": SMS_API_URL, "SMS_ACCOUNT_SID": SMS_ACCOUNT_SID, "SMS_AUTH_TOKEN": SMS_AUTH_TOKEN,
            "SMS_FROM": SMS_FROM}
    _missing = [name for name, value in _sms.items() if not value]
    if _missing:
        raise ImproperlyConfigured(f"SMS_BACKEND is twilio but these are not set: {', '.join(_missing)}.")
# The site's public address, for links in client messages (unsubscribe) and to check the SMS provider's signature.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000")
# No email or SMS reaches a client between these local times of their home boutique (HH:MM, the end excluded).
FOLLOWUP_QUIET_HOURS_START = env.str("FOLLOWUP_QUIET_HOURS_START", default="21:00")
FOLLOWUP_QUIET_HOURS_END = env.str("FOLLOWUP_QUIET_HOURS_END", default="09:00")
for _name in ("FOLLOWUP_QUIET_HOURS_START", "FOLLOWUP_QUIET_HOURS_END"):
    try:
        _time.fromisoformat(globals()[_name])
    except ValueError:
        raise ImproperlyConfigured(f"{_name} is {globals()[_name]!r}; give a time as HH:MM, e.g. 21:00.") from None
# At most this many emails and SMS per client in any 7 days; a follow-up over the cap waits for room.
FOLLOWUP_MAX_PER_7_DAYS = env.int("FOLLOWUP_MAX_PER_7_DAYS", default=3)
# An email or SMS that would go more than this many hours after it was first due is dropped (with the reason):
# after an outage, past the cap, or scheduled for a moment long gone (a legacy purchase imported today).
FOLLOWUP_MAX_LATE_HOURS = env.int("FOLLOWUP_MAX_LATE_HOURS", default=72)
# Sending attempts before a follow-up ends as failed; the n-th retry waits FOLLOWUP_RETRY_BASE_SECONDS * 4^(n-1).
FOLLOWUP_MAX_ATTEMPTS = env.int("FOLLOWUP_MAX_ATTEMPTS", default=5)
FOLLOWUP_RETRY_BASE_SECONDS = env.int("FOLLOWUP_RETRY_BASE_SECONDS", default=60)
# A follow-up still "sending" this long after its attempt began belonged to a worker that died mid-send.
FOLLOWUP_SENDING_LEASE_SECONDS = env.int("FOLLOWUP_SENDING_LEASE_SECONDS", default=300)
# Share of clients (percent) kept out of a template's follow-ups to measure its lift; a template may override it.
FOLLOWUP_HOLDOUT_PERCENT = env.int("FOLLOWUP_HOLDOUT_PERCENT", default=10)
# An order placed within this many days after a follow-up is attributed to it.
FOLLOWUP_ATTRIBUTION_DAYS = env.int("FOLLOWUP_ATTRIBUTION_DAYS", default=14)
# Products offered to templates as `recommended_products`.
FOLLOWUP_RECOMMENDED_PRODUCTS = env.int("FOLLOWUP_RECOMMENDED_PRODUCTS", default=3)

# --- Surveys (feedback) ---
# A client is surveyed at most once in this many days across all surveys (a survey may ask for longer).
SURVEY_RECONTACT_DAYS = env.int("SURVEY_RECONTACT_DAYS", default=30)
# Days a survey link stays valid after it is due, unless the survey sets its own.
SURVEY_EXPIRES_DAYS = env.int("SURVEY_EXPIRES_DAYS", default=14)
# Requests to the public survey page per address (core.client_address), counted in the shared cache.
SURVEY_PAGE_RATE = env.str("SURVEY_PAGE_RATE", default="30/min")
# A detractor's answer opens a service-recovery case: first contact due within this many hours.
RECOVERY_CONTACT_HOURS = env.int("RECOVERY_CONTACT_HOURS", default=24)
# The boutiques' opening hours (their own clock) and days, in which the recovery SLA counts: "10:00-19:00" and ISO
# weekdays (1 Monday ... 7 Sunday).
BOUTIQUE_OPENING_HOURS = env.str("BOUTIQUE_OPENING_HOURS", default="10:00-19:00")
BOUTIQUE_OPENING_DAYS = env.list("BOUTIQUE_OPENING_DAYS", cast=int, default=[1, 2, 3, 4, 5, 6])
try:
    _opens, _closes = (_time.fromisoformat(_part) for _part in BOUTIQUE_OPENING_HOURS.split("-"))
except ValueError:
    raise ImproperlyConfigured(
        f"BOUTIQUE_OPENING_HOURS is {BOUTIQUE_OPENING_HOURS!r}; give opening and closing as HH:MM-HH:MM."
    ) from None
if _opens >= _closes or not BOUTIQUE_OPENING_DAYS or not set(BOUTIQUE_OPENING_DAYS) <= set(range(1, 8)):
    raise ImproperlyConfigured("BOUTIQUE_OPENING_HOURS must open before it closes, and BOUTIQUE_OPENING_DAYS name "
                               "ISO weekdays from 1 (Monday) to 7 (Sunday).")

# POS and CRM syncs (sync app). Connector settings live in the admin; their secrets in environment variables the
# settings name. A sync task works this long, then hands the rest of the run to a fresh task (a checkpoint per page).
SYNC_TASK_SECONDS = env.int("SYNC_TASK_SECONDS", default=240)
# A run whose task has shown no sign of life for this long is queued again (its lock tells whether it still runs).
SYNC_STALLED_MINUTES = env.int("SYNC_STALLED_MINUTES", default=15)
# The queue sync tasks go to (empty: Celery's default queue), e.g. for workers dedicated to syncs; in the
# installation's namespace like every queue: SYNC_TASK_QUEUE=sync is "<CELERY_QUEUE_PREFIX>.sync".
_sync_queue = env.str("SYNC_TASK_QUEUE", default="")
SYNC_TASK_QUEUE = queue_name(CELERY_QUEUE_PREFIX, _sync_queue) if _sync_queue else None
