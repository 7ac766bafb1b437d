from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Legacy data in and out: CSV/XLSX imports as reviewable, reversible batches, and exports."""

    name = "imports"
    verbose_name = "Imports and exports"

    def ready(self) -> None:
        # The admins of the apps below offer exports through core.admin's hook (apps depend one way).
        from core.admin import register_spreadsheet_export
        from imports.exports import export_response

        register_spreadsheet_export(export_response)
