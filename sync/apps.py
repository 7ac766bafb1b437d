from django.apps import AppConfig, apps


class SyncConfig(AppConfig):
    """Continuous syncs with outside systems (POS, CRM): connector settings, cursors, runs and their log.

    The connector classes live in the apps whose data they bring (<app>/connectors/); this app runs them.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "sync"
    verbose_name = "POS and CRM syncs"

    def ready(self) -> None:
        from core.connectors import discover_connectors

        # Every installed app's connectors package registers its classes: a new POS or CRM needs no change here.
        discover_connectors([config.name for config in apps.get_app_configs()])
