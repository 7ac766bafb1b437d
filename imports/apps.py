from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Legacy data in and out: CSV/XLSX imports as reviewable, reversible batches, and exports."""

    name = "imports"
    verbose_name = "Imports and exports"
