"""System checks that tell whoever starts Atelier how it is running."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def tasks_run_eagerly(app_configs, **kwargs):
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) and not getattr(settings, "TESTING", False):
        return [
            Warning(
                "No Celery broker answers: tasks run eagerly inside the web process, and periodic tasks do not run.",
                hint="Start Redis on 127.0.0.1:6379 or set CELERY_BROKER_URL to run a worker and beat.",
                id="core.W001",
            )
        ]
    return []


@register()
def cache_is_per_process(app_configs, **kwargs):
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("LocMemCache") and not getattr(settings, "TESTING", False):
        return [
            Warning(
                "No shared cache: each web worker counts API rate limits on its own, so a key gets its budget once "
                "per worker.",
                hint="Start Redis on 127.0.0.1:6379 or set CACHE_URL=redis://host:6379/1.",
                id="core.W002",
            )
        ]
    return []
