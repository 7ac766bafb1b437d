"""The back office's name, and what every app's admin shares."""

from __future__ import annotations

from django.contrib import admin

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
