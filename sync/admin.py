"""Syncs in the admin (head office): connector settings with their schedule and a "sync now" action, and the run
log with every refused record. The pages only read and call sync.services."""

from __future__ import annotations

import os
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.connectors import connector_classes
from core.errors import ApplicationError
from sync.models import ConnectorSetting, SyncRejection, SyncRun
from sync.services import connector_setting_delete, connector_setting_save, connector_sync


class ConnectorSettingForm(forms.ModelForm):
    kind = forms.ChoiceField(help_text="The connector class: one per kind of POS or CRM.")
    endpoint = forms.URLField(max_length=300, assume_scheme="https", help_text="Base URL of the system's API.")

    class Meta:
        model = ConnectorSetting
        fields = ["name", "kind", "endpoint", "boutiques", "secret_variable", "options", "schedule_minutes",
                  "is_enabled", "notifies_journeys"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(key, f"{cls.label} ({key})") for key, cls in connector_classes().items()]


@admin.register(ConnectorSetting)
class ConnectorSettingAdmin(admin.ModelAdmin):
    form = ConnectorSettingForm
    list_display = ["name", "kind", "endpoint", "boutique_codes", "schedule_minutes", "is_enabled", "secret_status",
                    "last_run"]
    list_filter = ["is_enabled", "kind"]
    filter_horizontal = ["boutiques"]
    readonly_fields = ["secret_status", "periodic_task"]
    actions = ["sync_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConnectorSetting]:
        return super().get_queryset(request).prefetch_related("boutiques")

    @admin.display(description="Boutiques")
    def boutique_codes(self, setting: ConnectorSetting) -> str:
        return ", ".join(boutique.code for boutique in setting.boutiques.all()) or "house-wide"

    @admin.display(description="Secret")
    def secret_status(self, setting: ConnectorSetting) -> str:
        # Whether the variable is set where the admin runs: its value is never shown.
        if not setting.secret_variable:
            return "none"
        state = "set" if os.environ.get(setting.secret_variable) else "NOT SET"
        return f"{setting.secret_variable} ({state})"

    @admin.display(description="Last run")
    def last_run(self, setting: ConnectorSetting) -> str:
        run = setting.runs.order_by("-queued_at").first()
        return f"{run.get_status_display()} {run.queued_at:%Y-%m-%d %H:%M}" if run else "never"

    def save_model(self, request: HttpRequest, obj: ConnectorSetting, form: Any, change: bool) -> None:
        try:
            connector_setting_save(setting=obj)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: ConnectorSetting) -> None:
        connector_setting_delete(setting=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ConnectorSetting]) -> None:
        for setting in queryset:
            connector_setting_delete(setting=setting)

    def has_sync_now_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sync.sync_now")

    @admin.action(description="Sync now", permissions=["sync_now"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[ConnectorSetting]) -> None:
        started = 0
        for setting in queryset:
            runs = connector_sync(setting=setting, trigger=SyncRun.Trigger.MANUAL, requested_by=request.user)
            started += len(runs)
        self.message_user(request, f"{started} sync run(s) queued or already under way; see Sync runs.",
                          messages.SUCCESS)


class SyncRejectionInline(admin.TabularInline):
    model = SyncRejection
    fields = ["stream", "external_id", "reason", "errors", "record_excerpt", "is_page"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    @admin.display(description="Record")
    def record_excerpt(self, rejection: SyncRejection) -> str:
        import json

        text = json.dumps(rejection.record, ensure_ascii=False, sort_keys=True)
        return format_html('<code style="white-space: pre-wrap">{}</code>', text[:1000])


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "connector", "boutique", "trigger", "status", "started_at", "finished_at", "pages",
                    "created", "updated", "unchanged", "rejected", "retries"]
    list_filter = ["status", "trigger", "connector", "boutique"]
    date_hierarchy = "queued_at"
    list_select_related = ["connector", "boutique"]
    fields = ["connector", "boutique", "trigger", "requested_by", "status", "queued_at", "started_at",
              "finished_at", "heartbeat_at", "streams_done", "pages", "created", "updated", "unchanged", "rejected",
              "retries", "attempts", "error", "notifies_journeys"]
    readonly_fields = fields
    inlines = [SyncRejectionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SyncRun | None = None) -> bool:
        return False
