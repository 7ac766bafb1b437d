"""The back office's name, and what every app's admin shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http.response import HttpResponseBase

admin.site.site_header = "Atelier"
admin.site.site_title = "Atelier clienteling"
admin.site.index_title = "Back office"

# TimeStampedModel's fields: shown on every page that has them, written only by the row's own saves.
TIMESTAMPS = ("created_at", "updated_at")


class ViewOnlyAdminMixin:
    """For rows only services write (ledgers, synced sales, stage moves): the admin shows them and changes nothing.

    Adding, editing or deleting one here would skip what the service does with it (the audit row, the metrics,
    the timeline), so nobody can, superusers included. Works on ModelAdmin and on inlines.
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- Exports ---------------------------------------------------------------------------------------------------

ExportResponder = Callable[..., HttpResponseBase]
_export_responders: list[ExportResponder] = []


def register_spreadsheet_export(responder: ExportResponder) -> None:
    """The imports app registers its export here (imports.apps), so that the admins of the apps below it can offer
    exports without importing it (apps depend one way)."""
    _export_responders[:] = [responder]


def spreadsheet_export(request, *, kind: str, queryset: QuerySet, fmt: str) -> HttpResponseBase:
    """The download of `queryset` as a `kind` file in `fmt` (csv or xlsx), as far as the staff member may see it."""
    if not _export_responders:
        raise ImproperlyConfigured("No export is registered: is the imports app in INSTALLED_APPS?")
    return _export_responders[0](request, kind=kind, queryset=queryset, fmt=fmt)


class SpreadsheetExportMixin:
    """Adds "Export to CSV" and "Export to XLSX" actions: the selected rows (or all of the filtered list) in the
    importer's format for `export_kind` (imports/columns.md), scoped to what the staff member may see."""

    export_kind: str = ""
    actions: Any = ["export_csv", "export_xlsx"]

    @admin.action(description="Export the selection to CSV", permissions=["view"])
    def export_csv(self, request, queryset: QuerySet) -> HttpResponseBase:
        return spreadsheet_export(request, kind=self.export_kind, queryset=queryset, fmt="csv")

    @admin.action(description="Export the selection to XLSX", permissions=["view"])
    def export_xlsx(self, request, queryset: QuerySet) -> HttpResponseBase:
        return spreadsheet_export(request, kind=self.export_kind, queryset=queryset, fmt="xlsx")
