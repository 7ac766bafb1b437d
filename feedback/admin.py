"""Admin for surveys (editable) and for invitations and responses (shown only)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from core.admin import TIMESTAMPS, SpreadsheetExportMixin, ViewOnlyAdminMixin
from customers.admin import SOURCE_SEARCH_HELP, BoutiqueScopedAdminMixin, ClientSearchMixin
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, RootCause, Survey, SurveyMessage
from feedback.selectors import survey_invitation_counts


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "channel", "purpose", "trigger_type", "delay_hours", "sample_percent",
                    "recontact_days", "expires_after_days", "reminder_count", "is_active"]
    list_filter = ["kind", "channel", "is_active"]
    list_select_related = ["trigger_type"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = ["invitation_counts", *TIMESTAMPS]

    @admin.display(description="Invitations by outcome")
    def invitation_counts(self, survey: Survey) -> str:
        """Every outcome, every reason an invitation was not sent included, counted (none yet for a new survey)."""
        if survey.pk is None:
            return "-"
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", survey_invitation_counts(survey_id=survey.pk))
        return format_html('<table class="invitation-counts">{}</table>', rows)


@admin.register(RootCause)
class RootCauseAdmin(admin.ModelAdmin):
    """The root causes recovery cases are closed with; head office edits the list (a cause in use is switched off,
    not deleted)."""

    list_display = ["name", "position", "is_active"]
    list_editable = ["position", "is_active"]
    ordering = ["position", "name"]


@admin.register(SurveyMessage)
class SurveyMessageAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Reminders and referral asks, sent by the dispatcher; one that did not go shows why."""

    list_display = ["due_at", "kind", "number", "survey", "customer", "channel", "status", "reason", "sent_at",
                    "status_reason"]
    list_filter = ["kind", "status", "reason", "survey"]
    list_select_related = ["survey", "customer"]
    search_fields = ["customer__email"]
    ordering = ["-due_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "invitation", "response"]
    readonly_fields = TIMESTAMPS


@admin.register(Invitation)
class InvitationAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Invitations are scheduled, sent and answered by the feedback services; one that will not go shows why. The
    token is the client's key to the survey, so it is not shown."""

    list_display = ["created_at", "survey", "customer", "channel", "status", "reason", "due_at", "sent_at",
                    "expires_at", "answered_at", "status_reason"]
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


class RecoveryEventInline(ViewOnlyAdminMixin, admin.TabularInline):
    """The case's steps, as the client's timeline shows them."""

    model = RecoveryEvent
    fields = ["occurred_at", "kind", "actor", "advisor", "note"]
    readonly_fields = fields
    extra = 0


@admin.register(RecoveryCase)
class RecoveryCaseAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Service-recovery cases opened by detractors' answers (feedback.services.recovery); worked from the advisor's
    day."""

    list_display = ["created_at", "customer", "response", "advisor", "status", "contact_due_at", "contacted_at",
                    "escalated_at", "escalated_to", "outcome", "root_cause"]
    list_filter = ["status", ("escalated_at", admin.EmptyFieldListFilter), "root_cause", "outcome"]
    list_select_related = ["customer", "response", "advisor__user", "escalated_to__user", "root_cause"]
    search_fields = ["customer__email"]
    ordering = ["contact_due_at", "pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "response", "advisor"]
    inlines = [RecoveryEventInline]
    readonly_fields = TIMESTAMPS



@admin.register(RecoveryEvent)
class RecoveryEventAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """The steps of recovery cases (opened, contacted, escalated, closed), written by feedback.services.recovery."""

    list_display = ["occurred_at", "kind", "customer", "case", "advisor", "actor", "note"]
    list_filter = ["kind"]
    list_select_related = ["customer", "case", "advisor__user", "actor"]
    search_fields = ["customer__email"]
    ordering = ["-occurred_at", "-pk"]
    show_full_result_count = False
