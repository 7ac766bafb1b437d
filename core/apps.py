from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: the error type, the timestamped base model, the API error format, checks."""

    name = "core"

    def ready(self) -> None:
        from core import checks  # noqa: F401  (registers the system checks)
