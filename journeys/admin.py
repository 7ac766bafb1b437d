"""Admin for journey maps, stages, rules and follow-up templates (editable) and for enrollments, stage moves and
follow-ups (shown; a follow-up's status can be corrected)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from core.admin import TIMESTAMPS, ViewOnlyAdminMixin
from core.errors import ApplicationError
from core.querystrings import int_id
from customers.admin import BoutiqueScopedAdminMixin, ClientSearchMixin
from customers.models import Customer
from customers.scoping import visible_boutique_ids
from journeys.models import (
    Enrollment,
    FollowUp,
    FollowUpTemplate,
    FollowUpVariant,
    HandsOff,
    Journey,
    Rule,
    Stage,
    Transition,
)
from journeys.selectors import followup_results, template_result_counts
from journeys.services import followup_check_status_change, followup_update_by_staff, hands_off_lift, hands_off_set
from journeys.services.rendering import CONTEXT_CONTRACT, followup_context, render_message, template_check


class StageInline(admin.TabularInline):
    model = Stage
    fields = ["position", "key", "name", "target_days", "description"]
    ordering = ["position"]
    extra = 0
    show_change_link = True  # the expected touchpoint types are edited on the stage's own page


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "persona", "segment", "is_active"]
    list_filter = ["is_active", "persona", "segment"]
    list_select_related = ["persona", "segment"]
    search_fields = ["name", "slug"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = TIMESTAMPS
    inlines = [StageInline]


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "journey", "position", "key", "target_days"]
    list_filter = ["journey"]
    list_select_related = ["journey"]
    search_fields = ["name", "key", "journey__name"]
    ordering = ["journey__name", "position"]
    filter_horizontal = ["expected_touchpoint_types"]
    readonly_fields = TIMESTAMPS


def _rate(converted: int, total: int) -> str:
    return f"{converted / total:.1%} ({converted}/{total})" if total else "–"


class FollowUpVariantForm(forms.ModelForm):
    """Subject and body must compile and name only the context's variables (journeys.services.rendering): a typo
    is refused here, with the reason, rather than sent as an empty greeting."""

    class Meta:
        model = FollowUpVariant
        fields = ["template", "label", "weight", "subject", "body"]
        help_texts = {
            "body": "Django template syntax. Email: HTML. Variables: " + ", ".join(CONTEXT_CONTRACT) + ".",
        }

    def _checked(self, field: str) -> str:
        source = self.cleaned_data.get(field) or ""
        template = self.cleaned_data.get("template") or getattr(self.instance, "template", None)
        try:
            template_check(source, channel=getattr(template, "channel", FollowUpTemplate.Channel.EMAIL), field=field)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error
        return source

    def clean_subject(self) -> str:
        return self._checked("subject")

    def clean_body(self) -> str:
        return self._checked("body")


class FollowUpVariantInline(admin.StackedInline):
    model = FollowUpVariant
    form = FollowUpVariantForm
    fields = [("label", "weight"), "subject", "body"]
    extra = 0


@admin.register(FollowUpTemplate)
class FollowUpTemplateAdmin(admin.ModelAdmin):
    """Templates and their variants. The change page also shows the template's results (per variant, against the
    holdout) and links to a preview of every variant for a chosen client."""

    list_display = ["name", "channel", "purpose", "delay_hours", "holdout_percent", "is_active", "reached",
                     "conversion", "holdout_conversion"]
    list_filter = ["channel", "purpose", "is_active"]
    search_fields = ["name"]
    ordering = ["name"]
    readonly_fields = TIMESTAMPS
    inlines = [FollowUpVariantInline]

    def get_queryset(self, request):
        # The list's result columns, counted in the list's one query (templates are few; follow-ups are many).
        return super().get_queryset(request).annotate(**template_result_counts(viewer=request.user))

    @admin.display(description="Reached", ordering="reached_count")
    def reached(self, template: FollowUpTemplate) -> int:
        return template.reached_count

    @admin.display(description="Conversion")
    def conversion(self, template: FollowUpTemplate) -> str:
        return _rate(template.converted_count, template.reached_count)

    @admin.display(description="Holdout conversion")
    def holdout_conversion(self, template: FollowUpTemplate) -> str:
        return _rate(template.holdout_converted_count, template.holdout_count)

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        preview = path("<path:object_id>/preview/", self.admin_site.admin_view(self.preview_view),
                       name="{}_{}_preview".format(*info))
        return [preview, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        template = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {})}
        if template is not None:
            extra_context["results"] = followup_results(template=template, viewer=request.user)
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def preview_view(self, request, object_id: str):
        """Every variant of the template rendered for one client (?client=<id or email>), among those the staff
        member may see. Nothing is saved or sent."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        template = self.get_object(request, unquote(object_id))
        if template is None:
            raise Http404("No such template.")
        wanted = (request.GET.get("client") or "").strip()
        customer, error, previews = None, "", []
        if wanted:
            clients = Customer.objects.visible_to(request.user).filter(is_anonymized=False)
            # An id as staff type it (ASCII digits, within a bigint), else an email: never a 500 on odd input.
            pk = int_id(wanted)
            lookup = {"pk": pk} if pk is not None else {"email": wanted.lower()}
            customer = clients.filter(**lookup).select_related("advisor__user", "home_boutique").first()
            if customer is None:
                error = f"No client {wanted!r} among the clients you may see."
            else:
                context = followup_context(customer)
                for variant in template.variants.order_by("label"):
                    try:
                        message = render_message(subject=variant.subject, body=variant.body,
                                                 channel=template.channel, context=context)
                        previews.append((variant, message, ""))
                    except ApplicationError as failure:
                        previews.append((variant, None, failure.message))
        return TemplateResponse(request, "admin/journeys/followuptemplate/preview.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": template,
            "title": f"Preview: {template.name}", "wanted": wanted, "customer": customer, "error": error,
            "previews": previews, "is_html": template.channel == FollowUpTemplate.Channel.EMAIL,
        })


@admin.register(FollowUpVariant)
class FollowUpVariantAdmin(admin.ModelAdmin):
    form = FollowUpVariantForm
    list_display = ["template", "label", "weight", "subject"]
    list_filter = ["template"]
    list_select_related = ["template"]
    search_fields = ["template__name", "label", "subject"]
    ordering = ["template__name", "label"]


class RuleForm(forms.ModelForm):
    """Rule.clean checks the row (the ModelForm calls it); the many-to-many choices, saved after the row, are
    checked here against it with Rule.clean_relations, so a nonsense rule is refused before anything is saved."""

    class Meta:
        model = Rule
        fields = [
            "journey", "name", "is_active", "priority", "stop_processing", "trigger", "touchpoint_types", "from_stages",
            "enrolls_new_clients", "days", "profile_date", "min_amount", "min_count", "window_days", "channel",
            "boutiques", "min_score", "min_tier", "to_stage", "followup_template",
        ]

    def _post_clean(self):
        # After the ModelForm has put the cleaned values on the instance and run Rule.clean.
        super()._post_clean()
        if {"journey", "trigger", "to_stage"} & set(self.errors):
            return
        try:
            self.instance.clean_relations(
                touchpoint_types=self.cleaned_data.get("touchpoint_types") or [],
                from_stages=self.cleaned_data.get("from_stages") or [],
                boutiques=self.cleaned_data.get("boutiques") or [],
            )
        except ValidationError as error:
            for field, field_messages in error.message_dict.items():
                self.add_error(field, field_messages)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    """Rule.clean checks the combination of trigger, conditions, stage and follow-up; the admin form runs it on save,
    with Rule.clean_relations for the stages, types and boutiques chosen."""

    form = RuleForm
    list_display = ["name", "journey", "trigger", "priority", "to_stage", "followup_template", "stop_processing",
                    "is_active"]
    list_filter = ["is_active", "trigger", "journey"]
    list_select_related = ["journey", "to_stage__journey", "followup_template"]
    search_fields = ["name", "journey__name"]
    ordering = ["journey__name", "priority", "pk"]
    filter_horizontal = ["touchpoint_types", "from_stages", "boutiques"]
    readonly_fields = TIMESTAMPS
    fieldsets = [
        (None, {"fields": ["journey", "name", "is_active", "priority", "stop_processing"]}),
        ("When", {"fields": ["trigger", "touchpoint_types", "from_stages", "enrolls_new_clients", "days",
                             "profile_date"]}),
        ("Only if", {"fields": ["min_amount", ("min_count", "window_days"), "channel", "boutiques", "min_score",
                                "min_tier"]}),
        ("Then", {"fields": ["to_stage", "followup_template"]}),
        ("Record", {"fields": TIMESTAMPS}),
    ]

    # Stages are named with their journey: without the join, each choice of the stage widgets costs a query.
    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "to_stage":
            kwargs["queryset"] = Stage.objects.select_related("journey")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "from_stages":
            kwargs["queryset"] = Stage.objects.select_related("journey")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class HandsOffForm(forms.ModelForm):
    class Meta:
        model = HandsOff
        fields = ["customer", "until", "reason"]


@admin.register(HandsOff)
class HandsOffAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, admin.ModelAdmin):
    """Advisors pause automation for a client here (until a date, or until lifted). Through the services: setting a
    pause lifts the one before; a pause is never edited or deleted, only lifted (the action), so the record stays."""

    form = HandsOffForm
    list_display = ["customer", "starts_at", "until", "lifted_at", "set_by", "reason"]
    list_filter = [("lifted_at", admin.EmptyFieldListFilter)]
    list_select_related = ["customer", "set_by"]
    search_fields = ["customer__email"]
    ordering = ["-starts_at", "-pk"]
    autocomplete_fields = ["customer"]
    actions = ["lift"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["customer", "until", "reason", "starts_at", "set_by", "lifted_at", "lifted_by"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["customer", "until", "reason"]
        return ["customer", "starts_at", "until", "reason", "set_by", "lifted_at", "lifted_by"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            return form

        class ServiceCheckedForm(form):
            def clean(self):
                cleaned = super().clean()
                until = cleaned.get("until")
                if until is not None and until <= timezone.now():
                    self.add_error("until", "The end of the pause must be in the future.")
                return cleaned

        return ServiceCheckedForm

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is editable on a pause once set
        try:
            saved = hands_off_set(customer=obj.customer, actor=request.user, until=obj.until, reason=obj.reason)
        except ApplicationError as error:
            raise ValidationError(error.message) from error
        obj.pk, obj.starts_at, obj.set_by = saved.pk, saved.starts_at, saved.set_by
        obj._state.adding = False

    @admin.action(description="Lift the hands-off of the selected clients", permissions=["change"])
    def lift(self, request, queryset):
        lifted = sum(
            hands_off_lift(customer=hands_off.customer, actor=request.user)
            for hands_off in queryset.filter(lifted_at__isnull=True).select_related("customer")
        )
        self.message_user(request, f"Automation resumed for {lifted} client(s).", messages.SUCCESS)


@admin.register(Enrollment)
class EnrollmentAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Enrollments move only through enrollment_enroll and enrollment_move, which write the Transition that says
    why; a stage changed here would leave no trace."""

    list_display = ["customer", "journey", "stage", "stage_entered_at", "enrolled_at", "exited_at"]
    list_filter = ["journey", ("exited_at", admin.EmptyFieldListFilter)]
    list_select_related = ["customer", "journey", "stage__journey"]
    search_fields = ["customer__email"]
    ordering = ["-enrolled_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer"]
    readonly_fields = TIMESTAMPS


@admin.register(Transition)
class TransitionAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """The record of every stage move, written with the move by the journeys services."""

    list_display = ["occurred_at", "client", "journey", "from_stage", "to_stage", "cause", "rule", "actor",
                    "actor_label"]
    list_filter = ["cause", "enrollment__journey", ("occurred_at", admin.DateFieldListFilter)]
    list_select_related = ["enrollment__customer", "enrollment__journey", "from_stage__journey", "to_stage__journey",
                           "rule", "actor"]
    search_fields = ["enrollment__customer__email"]
    client_field = "enrollment__customer"
    ordering = ["-occurred_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["enrollment", "interaction", "actor"]

    @admin.display(description="Client", ordering="enrollment__customer__last_name")
    def client(self, transition: Transition):
        return transition.enrollment.customer

    @admin.display(description="Journey", ordering="enrollment__journey__name")
    def journey(self, transition: Transition):
        return transition.enrollment.journey


def boutique_time(moment: dt.datetime | None, boutique: Any) -> str:
    """`moment` on the boutique's clock (the house's TIME_ZONE without one), with the clock's name."""
    if moment is None:
        return "—"
    zone = boutique.timezone if boutique is not None else settings.TIME_ZONE
    return f"{timezone.localtime(moment, zoneinfo.ZoneInfo(zone)):%d %b %Y, %H:%M} ({zone})"


@admin.register(FollowUp)
class FollowUpAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, admin.ModelAdmin):
    """Follow-ups are scheduled and sent by the journeys services; here staff can only correct the status, its
    reason and the outcome (an advisor task done, a message known to have failed). Everything else is shown."""

    list_display = ["due", "customer", "template", "variant", "channel", "status", "status_reason", "advisor",
                    "outcome", "sent", "attempts"]
    list_filter = ["status", "channel", "outcome", "template", ("due_at", admin.DateFieldListFilter)]
    list_select_related = ["customer__home_boutique", "template", "variant", "advisor__user"]
    search_fields = ["customer__email"]
    ordering = ["-due_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "advisor", "attributed_order"]
    editable_fields = ("status", "status_reason", "outcome")
    fieldsets = [
        (None, {"fields": ["customer", "template", "variant", "channel", "due_at", "first_due_at", "advisor"]}),
        ("Status", {"fields": ["status", "status_reason", "outcome", "attributed_order", "handled_by", "handled_at"]}),
        ("Message", {"fields": ["subject", "body"]}),
        ("Delivery", {"fields": ["sent_at", "attempts", "last_attempt_at", "provider_message_id",
                                 "idempotency_key"]}),
        ("Why", {"fields": ["rule", "transition"]}),
        ("Record", {"fields": TIMESTAMPS}),
    ]

    # Times as the client's boutique reads its clock, saying which clock (the day and client pages do the same).
    @admin.display(description="Due", ordering="due_at")
    def due(self, followup: FollowUp) -> str:
        return boutique_time(followup.due_at, followup.customer.home_boutique)

    @admin.display(description="Sent", ordering="sent_at")
    def sent(self, followup: FollowUp) -> str:
        return boutique_time(followup.sent_at, followup.customer.home_boutique)

    # The machinery of delivery (attempts, the provider's id, the idempotency key) is head office's to read.
    delivery_details = ("attempts", "last_attempt_at", "provider_message_id", "idempotency_key")

    def get_fieldsets(self, request, obj=None):
        if visible_boutique_ids(request.user) is None:
            return self.fieldsets
        return [
            (name, {**options, "fields": [field for field in options["fields"] if field not in self.delivery_details]})
            for name, options in self.fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        every_field = [field for _, options in self.fieldsets for field in options["fields"]]
        return [field for field in every_field if field not in self.editable_fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)

        class StatusCheckedForm(form):
            def clean_status(self):
                status = self.cleaned_data["status"]
                try:
                    followup_check_status_change(current=self.initial.get("status", status), wanted=status,
                                                 followup=self.instance)
                except ApplicationError as error:
                    raise forms.ValidationError(error.message) from error
                return status

        return StatusCheckedForm

    def save_model(self, request, obj, form, change):
        if form.changed_data:
            # Through the service: only the status fields, compared with the stored row (the sending task updates
            # attempts and delivery fields at any moment).
            followup_update_by_staff(
                followup=obj, changes={name: form.cleaned_data[name] for name in form.changed_data}, actor=request.user
            )
