from django.apps import AppConfig


class InsightConfig(AppConfig):
    """Rollups, the journey map, the house's figures, predictions and alerts.

    Insight reads every other app and writes only its own tables (DOMAIN.md).
    """

    name = "insight"

    def ready(self) -> None:
        from customers.api.serializers import DetailSection, register_detail_section
        from insight import tasks_predictions  # noqa: F401  (Celery finds tasks.py only)
        from insight.api.serializers import ClientPredictionField

        # The client's API representation gains the prediction without customers importing insight.
        register_detail_section(DetailSection(name="prediction", field=ClientPredictionField))
