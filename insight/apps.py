from django.apps import AppConfig


class InsightConfig(AppConfig):
    """Rollups, the journey map, the house's figures, predictions and alerts.

    Insight reads every other app and writes only its own tables (DOMAIN.md).
    """

    name = "insight"
