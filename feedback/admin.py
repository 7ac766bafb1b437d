"""Admin for surveys (editable) and for invitations and responses (shown only)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import TIMESTAMPS, SpreadsheetExportMixin, ViewOnlyAdminMixin
from customers.admin import SOURCE_SEARCH_HELP, BoutiqueScopedAdminMixin, ClientSearchMixin
from feedback.models import Invitation, RecoveryCase, Response, Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "channel", "purpose", "trigger_type", "delay_hours", "sample_percent",
                    "recontact_days", "expires_after_days", "is_active"]
    list_filter = ["kind", "channel", "is_active"]
    list_select_related = ["trigger_type"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = TIMESTAMPS


@admin.register(Invitation)
class InvitationAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Invitations are scheduled, sent and answered by the feedback services; one that will not go shows why. The
    token is the client's key to the survey, so it is not shown."""

    list_display = ["created_at", "survey", "customer", "channel", "status", "reason", "due_at", "sent_at",
                    "expires_at", "answered_at"]
    list_filter = ["survey", "status", "reason", "channel", ("answered_at", admin.EmptyFieldListFilter)]
    list_select_related = ["survey", "customer"]
    search_fields = ["customer__email"]
    ordering = ["-created_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "interaction"]
    readonly_fields = TIMESTAMPS


@admin.register(Response)
class ResponseAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, SpreadsheetExportMixin,
                    admin.ModelAdmin):
    """Answers as clients (or a survey tool) gave them; they are evidence, not something to correct."""

    export_kind = "responses"

    list_display = ["responded_at", "survey", "customer", "score", "nps_class", "stage_key", "source"]
    list_filter = ["survey", "nps_class", "source", ("responded_at", admin.DateFieldListFilter)]
    list_select_related = ["survey", "customer"]
    search_fields = ["customer__email", "external_id"]
    source_field = "source"
    search_help_text = SOURCE_SEARCH_HELP
    ordering = ["-responded_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "invitation"]
    readonly_fields = ["created_at"]


@admin.register(RecoveryCase)
class RecoveryCaseAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Service-recovery cases opened by detractors' answers (feedback.services.recovery); worked from the advisor's
    day."""

    list_display = ["created_at", "customer", "response", "advisor", "status", "contact_due_at"]
    list_filter = ["status"]
    list_select_related = ["customer", "response", "advisor__user"]
    search_fields = ["customer__email"]
    ordering = ["contact_due_at", "pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "response", "advisor"]
    readonly_fields = TIMESTAMPS
