from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """API keys of outside systems, and the REST API's authentication, permissions and throttles."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Registers the API key scheme with drf-spectacular (an extension is found by being imported).
        from integrations import schema  # noqa: F401
