"""Admin for boutiques, advisors, personas, segments and clients: plain, but fit for 100,000+ clients."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from core.admin import TIMESTAMPS, SpreadsheetExportMixin, ViewOnlyAdminMixin
from core.errors import ApplicationError
from customers.models import (
    Advisor,
    Boutique,
    ClientHandover,
    ConsentEvent,
    ContactConflict,
    Customer,
    CustomerExternalState,
    CustomerIdentity,
    CustomerMerge,
    Persona,
    Segment,
    SourceSystem,
)
from customers.services import advisor_save, client_book_hand_over
from customers.services.conflicts import contact_conflicts_settle
from customers.services.staff import advisor_validate

SOURCE_SEARCH_HELP = "A client's email address or public id, or the id the source system gave (exact)."


class BoutiqueScopedAdminMixin:
    """Staff reach only their boutique's clients (customers.scoping): in the list, on a page opened by URL, in
    exports, autocompletes and the choices of every foreign key. Head office and superusers reach all."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        manager = db_field.related_model._default_manager
        if "queryset" not in kwargs and hasattr(manager, "visible_to"):
            queryset = manager.visible_to(request.user)
            if db_field.related_model is Advisor:
                queryset = queryset.select_related("user")  # an advisor is shown by their user's name
            kwargs["queryset"] = queryset
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# Marks the second POST of an action: its confirmation page's form, as opposed to the list's action bar.
APPLY_ACTION = "apply"
# How many selected rows an action's confirmation page names; the rest are counted.
LISTED_ON_CONFIRMATION = 20


def action_confirmation_page(
    model_admin: admin.ModelAdmin, request, queryset: QuerySet, *, action: str, template: str, title: str,
    form: forms.Form, submit_label: str, **context: Any,
) -> TemplateResponse:
    """The page where an admin action asks for a choice (templates/admin/desk/action_form.html and its children).

    It posts back to the list's own URL, filters and search included, with the same selection and `apply`, so the
    action then runs on exactly the rows the list showed.
    """
    count = queryset.count()
    listed = list(queryset[:LISTED_ON_CONFIRMATION])
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            "form": form,
            "media": model_admin.media + form.media,
            "action": action,
            "selected_ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "count": count,
            "listed": listed,
            "more": max(count - len(listed), 0),
            "cancel_url": request.get_full_path(),
            "submit_label": submit_label,
            **context,
        },
    )


def as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


class ClientSearchMixin:
    """Search a big table by its client's exact email or public id, or by the row's exact id in its source system.

    `icontains` across a join to the clients would read every row of the table on each search; these lookups use
    indexes (the client's unique email and public id, the foreign key, the unique (source, external id) pair).
    `search_fields` only turns the search box on and names what is searched; `get_search_results` does it.
    """

    client_field = "customer"
    # The field that pairs with `external_id` in the row's unique (source, external id) index, if it has one.
    source_field: str | None = None
    search_help_text = "A client's email address or public id (exact)."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            # Emails are stored lower-case (customers.normalizers), so an exact match can use the unique index.
            return queryset.filter(**{f"{self.client_field}__email": term.lower()}), False
        public_id = as_uuid(term)
        if public_id is not None:
            return queryset.filter(**{f"{self.client_field}__public_id": public_id}), False
        if self.source_field:
            # Naming every source lets PostgreSQL use the (source, external_id) index for an id alone.
            return queryset.filter(**{f"{self.source_field}__in": SourceSystem.values, "external_id": term}), False
        return queryset.none(), False


@admin.register(Boutique)
class BoutiqueAdmin(SpreadsheetExportMixin, admin.ModelAdmin):
    export_kind = "boutiques"
    list_display = ["name", "code", "city", "country", "timezone", "currency"]
    list_filter = ["country", "currency"]
    search_fields = ["name", "code", "city"]
    ordering = ["name"]
    readonly_fields = TIMESTAMPS


class AdvisorAdminForm(forms.ModelForm):
    """Shows on the form what advisor_save would refuse (advisor_validate), instead of failing on save."""

    class Meta:
        model = Advisor
        fields = ["user", "boutique", "role", "is_active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        candidate = copy.copy(self.instance)
        for name in self.Meta.fields:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        try:
            advisor_validate(advisor=candidate)
        except ApplicationError as error:
            for field, errors in (error.fields or {None: [error.message]}).items():
                for message in errors:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned


class HandOverForm(forms.Form):
    to_advisors = forms.ModelMultipleChoiceField(
        queryset=Advisor.objects.none(), widget=forms.CheckboxSelectMultiple, label="Hand the clients over to"
    )
    note = forms.CharField(
        max_length=ClientHandover._meta.get_field("note").max_length, required=False, label="Note",
        help_text="Why, for the record: e.g. leaves the house on 30 June.",
    )

    def __init__(self, *args, advisors: QuerySet[Advisor], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_advisors"].queryset = advisors


@admin.register(Advisor)
class AdvisorAdmin(BoutiqueScopedAdminMixin, admin.ModelAdmin):
    """Staff and their roles. Managers see their boutique's advisors and hand a leaving advisor's client book over
    to colleagues (client_book_hand_over); head office edits roles and boutiques (advisor_save)."""

    form = AdvisorAdminForm
    list_display = ["__str__", "user", "boutique", "role", "is_active", "client_book"]
    list_filter = ["role", "is_active", "boutique"]
    list_select_related = ["user", "boutique"]
    search_fields = ["user__first_name", "user__last_name", "user__email", "user__username"]
    ordering = ["user__last_name", "user__first_name"]
    autocomplete_fields = ["user"]
    readonly_fields = TIMESTAMPS
    actions = ["hand_over_client_book"]

    def get_queryset(self, request):
        # A subquery per advisor shown, on the clients' advisor index, rather than a join and count over all clients.
        book = (
            Customer.objects.filter(advisor=OuterRef("pk")).order_by().values("advisor").annotate(count=Count("pk"))
        )
        return super().get_queryset(request).annotate(
            client_count=Coalesce(Subquery(book.values("count"), output_field=IntegerField()), 0)
        )

    @admin.display(description="Client book", ordering="client_count")
    def client_book(self, advisor: Advisor) -> str:
        url = reverse("admin:customers_customer_changelist")
        return format_html('<a href="{}?advisor_id={}&amp;client_book=all">{} clients</a>', url, advisor.pk,
                           advisor.client_count)

    def has_hand_over_permission(self, request) -> bool:
        return request.user.has_perm("customers.hand_over_clients")

    def save_model(self, request, obj, form, change) -> None:
        advisor_save(advisor=obj)

    @admin.action(description="Hand the client book over to other advisors", permissions=["hand_over"])
    def hand_over_client_book(self, request, queryset: QuerySet[Advisor]):
        """Share one advisor's clients out among advisors of the same boutique (client_book_hand_over)."""
        selected = list(queryset.select_related("user", "boutique")[:2])
        if len(selected) != 1:
            problem = "None of the selected advisors is on your list" if not selected else "Select one advisor"
            self.message_user(request, f"{problem}; nothing was changed.", messages.WARNING)
            return None
        from_advisor = selected[0]
        client_count = Customer.objects.filter(advisor=from_advisor).count()
        if not client_count:
            self.message_user(request, f"{from_advisor} has no clients to hand over.", messages.WARNING)
            return None
        receivers = (
            Advisor.objects.visible_to(request.user)
            .filter(boutique_id=from_advisor.boutique_id, is_active=True)
            .exclude(pk=from_advisor.pk)
            .exclude(role=Advisor.Role.HEAD_OFFICE)
            .select_related("user")
        )
        form = HandOverForm(request.POST if APPLY_ACTION in request.POST else None, advisors=receivers)
        if form.is_valid():
            to_advisors = list(form.cleaned_data["to_advisors"])
            try:
                handover = client_book_hand_over(
                    from_advisor=from_advisor, to_advisors=to_advisors, actor=request.user,
                    note=form.cleaned_data["note"],
                )
            except ApplicationError as error:
                self.message_user(request, f"{error.message} Nothing was changed.", messages.ERROR)
                return None
            names = {str(advisor.pk): str(advisor) for advisor in to_advisors}
            shares = ", ".join(f"{names[advisor_id]} {count}" for advisor_id, count in handover.allocation.items())
            self.message_user(request, f"Handed {handover.client_count} clients of {from_advisor} over: {shares}.")
            return None
        return action_confirmation_page(
            self, request, queryset.select_related("user"), action="hand_over_client_book",
            template="admin/desk/hand_over.html", title=f"Hand over the client book of {from_advisor}", form=form,
            submit_label="Hand over", from_advisor=from_advisor, client_count=client_count,
        )


@admin.register(Persona)
class PersonaAdmin(SpreadsheetExportMixin, admin.ModelAdmin):
    export_kind = "personas"
    list_display = ["name", "slug", "preferred_channels"]
    search_fields = ["name", "slug"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = TIMESTAMPS


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_by", "updated_at"]
    list_select_related = ["created_by"]
    search_fields = ["name", "slug"]
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["created_by"]
    readonly_fields = TIMESTAMPS


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Written by customer_upsert and moved by customer_merge only."""

    list_display = ["__str__", "customer", "system", "external_id", "created_at"]
    list_filter = ["system"]
    list_select_related = ["customer"]
    search_fields = ["customer__email", "external_id"]
    source_field = "system"
    search_help_text = SOURCE_SEARCH_HELP
    ordering = ["-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer"]
    readonly_fields = ["created_at"]


@admin.register(CustomerExternalState)
class CustomerExternalStateAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """What the CRM last held of each client (the base of the sync's three-way merge): written by the sync only."""

    list_display = ["customer", "system", "remote_updated_at", "pulled_at", "pushed_at"]
    list_filter = ["system"]
    list_select_related = ["customer"]
    search_fields = ["customer__email"]
    ordering = ["-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer"]


@admin.register(ContactConflict)
class ContactConflictAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """What other systems proposed for a client and was not applied (an unverified email match such as a guest
    checkout, or an order naming its client): staff apply or dismiss each, through contact_conflicts_settle."""

    list_display = ["created_at", "customer", "system", "field", "current_value", "proposed_value", "status"]
    list_filter = ["status", "system", "field"]
    list_select_related = ["customer"]
    search_fields = ["customer__email"]
    # Open conflicts first: the list is a review queue.
    ordering = ["-status", "-created_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer"]
    actions = ["apply_proposed", "dismiss"]

    def has_settle_permission(self, request) -> bool:
        return request.user.has_perm("customers.change_customer")

    def _settle(self, request, queryset, *, apply: bool) -> None:
        try:
            counts = contact_conflicts_settle(conflicts=queryset, apply=apply, actor=request.user)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        done = counts["applied"] if apply else counts["dismissed"]
        self.message_user(request, f"{'Applied' if apply else 'Dismissed'} {done} proposal{'s' * (done != 1)}.")
        if counts["refused"]:
            self.message_user(request, f"{counts['refused']} could not be applied (the client's profile refuses the "
                                       "value); they stay open.", messages.WARNING)

    @admin.action(description="Apply the proposed values to the clients", permissions=["settle"])
    def apply_proposed(self, request, queryset):
        self._settle(request, queryset, apply=True)

    @admin.action(description="Dismiss the proposals", permissions=["settle"])
    def dismiss(self, request, queryset):
        self._settle(request, queryset, apply=False)


@admin.register(ConsentEvent)
class ConsentEventAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """The consent ledger: consent_record appends to it and derives the client's current consent from it."""

    list_display = ["occurred_at", "customer", "channel", "purpose", "is_granted", "source", "recorded_by"]
    list_filter = ["channel", "purpose", "is_granted", "source", ("occurred_at", admin.DateFieldListFilter)]
    list_select_related = ["customer", "recorded_by"]
    search_fields = ["customer__email"]
    ordering = ["-occurred_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "recorded_by"]
    readonly_fields = ["created_at"]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Audit entries of customer_merge; a client id of a merged record finds where it went."""

    list_display = ["created_at", "merged_public_id", "surviving_customer", "merged_by", "reason"]
    list_select_related = ["surviving_customer", "merged_by"]
    search_fields = ["surviving_customer__email", "merged_public_id"]
    search_help_text = "The surviving client's email, or the public id of either client (exact)."
    client_field = "surviving_customer"
    ordering = ["-created_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["surviving_customer", "merged_by"]
    readonly_fields = ["created_at"]

    def get_search_results(self, request, queryset, search_term):
        public_id = as_uuid(search_term.strip())
        if public_id is not None:
            # Merges are few, so one OR across the join costs nothing here.
            found = queryset.filter(Q(merged_public_id=public_id) | Q(surviving_customer__public_id=public_id))
            return found, False
        return super().get_search_results(request, queryset, search_term)


@admin.register(ClientHandover)
class ClientHandoverAdmin(BoutiqueScopedAdminMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Hand-overs are recorded by client_book_hand_over; shown here for the boutique's managers and head office."""

    list_display = ["created_at", "from_advisor", "client_count", "handed_over_by", "boutique"]
    list_select_related = ["from_advisor__user", "handed_over_by", "boutique"]
    list_filter = ["boutique"]
    fields = ["from_advisor", "boutique", "client_count", "shares", "handed_over_by", "note", "created_at"]
    readonly_fields = fields

    @admin.display(description="Who took how many clients")
    def shares(self, handover: ClientHandover) -> str:
        advisors = Advisor.objects.filter(pk__in=list(handover.allocation)).select_related("user")
        names = {str(advisor.pk): str(advisor) for advisor in advisors}
        return ", ".join(
            f"{names.get(advisor_id, f'advisor #{advisor_id}')}: {count}"
            for advisor_id, count in handover.allocation.items()
        )
