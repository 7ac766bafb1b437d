"""Admin for surveys (editable) and for invitations and responses (shown only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin import TIMESTAMPS, SpreadsheetExportMixin, ViewOnlyAdminMixin
from core.errors import ApplicationError
from customers.admin import SOURCE_SEARCH_HELP, BoutiqueScopedAdminMixin, ClientSearchMixin
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, RootCause, Survey, SurveyMessage
from feedback.selectors import survey_invitation_counts
from feedback.services.recovery import recovery_case_close, recovery_case_contact


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

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        work = path("<path:object_id>/work/", self.admin_site.admin_view(self.work_view),
                    name="{}_{}_work".format(*info))
        return [work, *super().get_urls()]

    def work_view(self, request, object_id: str):
        """Record the first contact with the client, or close the case with an outcome and a root cause, through
        feedback.services.recovery (which checks the staff member's reach and the rules)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        case = self.get_object(request, unquote(object_id))
        if case is None:
            raise Http404("No such case.")
        form, error = RecoveryCloseForm(request.POST or None), ""
        if request.method == "POST":
            try:
                if request.POST.get("step") == "contact":
                    recovery_case_contact(case=case, actor=request.user, contacted_at=timezone.now(),
                                          note=request.POST.get("note", ""))
                    return HttpResponseRedirect(request.path)
                if form.is_valid():
                    recovery_case_close(case=case, actor=request.user, outcome=form.cleaned_data["outcome"],
                                        root_cause=form.cleaned_data["root_cause"], closed_at=timezone.now(),
                                        note=form.cleaned_data["note"])
                    return HttpResponseRedirect(request.path)
            except ApplicationError as refused:
                error = refused.message
            case.refresh_from_db()
        return TemplateResponse(request, "admin/feedback/recoverycase/work.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": case, "case": case,
            "title": f"Work the case: {case.customer}", "form": form, "error": error,
        })


class RecoveryCloseForm(forms.Form):
    """Closing a case: the outcome, a root cause from head office's list, a note."""

    outcome = forms.ChoiceField(choices=[("", "---------"), *RecoveryCase.Outcome.choices])
    root_cause = forms.ModelChoiceField(queryset=RootCause.objects.filter(is_active=True))
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))



@admin.register(RecoveryEvent)
class RecoveryEventAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """The steps of recovery cases (opened, contacted, escalated, closed), written by feedback.services.recovery."""

    list_display = ["occurred_at", "kind", "customer", "case", "advisor", "actor", "note"]
    list_filter = ["kind"]
    list_select_related = ["customer", "case", "advisor__user", "actor"]
    search_fields = ["customer__email"]
    ordering = ["-occurred_at", "-pk"]
    show_full_result_count = False
