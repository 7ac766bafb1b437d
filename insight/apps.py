from django.apps import AppConfig


class InsightConfig(AppConfig):
    """Rollups, the journey map, the house's figures, predictions and alerts.

    Insight reads every other app and writes only its own tables (DOMAIN.md).
    """

    name = "insight"

    def ready(self) -> None:
        from core.client_changes import register_clients_changed_listener
        from customers.api.serializers import DetailSection, register_detail_section
        from customers.filters import register_client_set
        from insight import tasks_predictions  # noqa: F401  (Celery finds tasks.py only)
        from insight.api.predictions import ClientPredictionField
        from insight.selectors.client_sets import parse_stage_set, stage_clients
        from insight.tasks import clients_changed_listener

        # The domain writers name the clients whose orders or stages changed (core.client_changes); insight
        # rewrites their rollups after the commit. The journey map's numbers open the client list filtered to
        # exactly their clients through the client_set filter (customers.filters).
        register_clients_changed_listener(clients_changed_listener)
        register_client_set("stage", parse_stage_set, stage_clients)
        # The client's API representation gains the prediction without customers importing insight.
        register_detail_section(DetailSection(name="prediction", field=ClientPredictionField))
