"""Admin for boutiques, advisors, personas, segments and clients: plain, but fit for 100,000+ clients."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin
from django.db.models import Q

from core.admin import TIMESTAMPS, ViewOnlyAdminMixin
from core.errors import ApplicationError
from customers.models import (
    Advisor,
    Boutique,
    ConsentEvent,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    Persona,
    Segment,
    SourceSystem,
)
from customers.normalizers import normalize_country, normalize_email, normalize_phone, normalize_preferences

SOURCE_SEARCH_HELP = "A client's email address or public id, or the id the source system gave (exact)."


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
class BoutiqueAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "city", "country", "timezone", "currency"]
    list_filter = ["country", "currency"]
    search_fields = ["name", "code", "city"]
    ordering = ["name"]
    readonly_fields = TIMESTAMPS


@admin.register(Advisor)
class AdvisorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "boutique", "role", "is_active"]
    list_filter = ["role", "is_active", "boutique"]
    list_select_related = ["user", "boutique"]
    search_fields = ["user__first_name", "user__last_name", "user__email", "user__username"]
    ordering = ["user__last_name", "user__first_name"]
    autocomplete_fields = ["user"]
    readonly_fields = TIMESTAMPS


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
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


class CustomerAdminForm(forms.ModelForm):
    """Cleans email, phone and preferences with the same functions as every other entry point, so the admin can
    neither store a value the services would refuse nor word the refusal differently."""

    # A CharField, not an EmailField: the shared normalizer alone decides what a valid address is, and says why.
    email = forms.CharField(required=False, max_length=254)
    # Wider than the stored E.164 number: staff type spaces, dots and brackets, which the normalizer removes.
    phone = forms.CharField(
        required=False, max_length=40, help_text="Local numbers are read in the home boutique's country."
    )

    # Cleaned first, so that clean_phone knows the region local numbers are read in. The admin lays the page
    # out from its fieldsets, so this order changes nothing on screen.
    field_order = ["home_boutique", "country"]

    class Meta:
        model = Customer
        # The profile. Tier, metrics and consent are derived by services and only shown (CustomerAdmin).
        fields = [
            "first_name",
            "last_name",
            "birth_date",
            "language",
            "city",
            "country",
            "email",
            "phone",
            "home_boutique",
            "advisor",
            "persona",
            "preferences",
            "advisor_notes",
        ]

    def clean_email(self) -> str:
        try:
            return normalize_email(self.cleaned_data.get("email"))
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error

    def clean_country(self) -> str:
        try:
            return normalize_country(self.cleaned_data.get("country"))
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error

    def clean_phone(self) -> str:
        # As customer_upsert reads it: the home boutique's country, else the client's, else the house default.
        boutique = self.cleaned_data.get("home_boutique")
        region = boutique.country if boutique else self.cleaned_data.get("country")
        try:
            return normalize_phone(self.cleaned_data.get("phone"), region=region or None)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error

    def clean_preferences(self) -> dict[str, list[str]]:
        try:
            # An emptied box means no preferences; the column cannot hold null.
            return normalize_preferences(self.cleaned_data.get("preferences") or {})
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error


class CustomerIdentityInline(ViewOnlyAdminMixin, admin.TabularInline):
    """Identities come from the systems that send the client (customer_upsert); shown, never edited here."""

    model = CustomerIdentity
    fields = ["system", "external_id", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Profile fields are editable; the value metrics, tier and consent are derived by services and only shown.

    Clients are not added here: they arrive from the POS, ecommerce and imports through customer_upsert, which
    finds the existing record before creating one. Nor are they deleted here: a client leaves through a merge or
    an anonymization, which keep their audit trail.
    """

    form = CustomerAdminForm
    list_display = ["name", "email", "phone", "home_boutique", "advisor", "value_tier", "lifetime_value",
                    "last_order_at"]
    list_filter = ["value_tier", "home_boutique", "persona", "is_anonymized"]
    list_select_related = ["home_boutique", "advisor__user"]
    search_fields = ["last_name", "first_name", "email"]
    search_help_text = "Name or email (part of it), a phone number as typed, or the client's public id."
    # updated_at has an index, so the first page is read from it instead of sorting every client.
    ordering = ["-updated_at"]
    show_full_result_count = False
    autocomplete_fields = ["advisor"]
    inlines = [CustomerIdentityInline]
    readonly_fields = [
        "value_tier",
        "lifetime_value",
        "order_count",
        "average_order_value",
        "first_order_at",
        "last_order_at",
        "recency_score",
        "frequency_score",
        "monetary_score",
        "last_interaction_at",
        "consent",
        "public_id",
        "is_anonymized",
        "anonymized_at",
        *TIMESTAMPS,
    ]
    fieldsets = [
        (None, {"fields": ["first_name", "last_name", "birth_date", "language", "city", "country"]}),
        ("Contact", {"fields": ["email", "phone"]}),
        ("Relationship", {"fields": ["home_boutique", "advisor", "persona", "preferences", "advisor_notes"]}),
        (
            "Value (derived from orders)",
            {
                "fields": [
                    "value_tier",
                    ("lifetime_value", "order_count", "average_order_value"),
                    ("first_order_at", "last_order_at", "last_interaction_at"),
                    ("recency_score", "frequency_score", "monetary_score"),
                ]
            },
        ),
        ("Consent (from the consent ledger)", {"fields": ["consent"]}),
        ("Record", {"fields": ["public_id", "is_anonymized", "anonymized_at", *TIMESTAMPS]}),
    ]

    @admin.display(description="Client", ordering="last_name")
    def name(self, customer: Customer) -> str:
        return str(customer)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        queryset_found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        extra = None
        public_id = as_uuid(term) if term else None
        if public_id is not None:
            extra = queryset.filter(public_id=public_id)
        elif term:
            try:
                phone = normalize_phone(term)
            except ApplicationError:
                phone = ""
            if phone:
                extra = queryset.filter(phone=phone)
        if extra is not None:
            queryset_found = queryset_found | extra
        return queryset_found, may_have_duplicates

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
        elif form.changed_data:
            # Only what the form changed: services update metrics and consent at any moment, and a full save would
            # write back the values this request read, undoing a refresh that committed in between.
            obj.save(update_fields=[*form.changed_data, "updated_at"])


@admin.register(CustomerIdentity)
class CustomerIdentityAdmin(ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
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


@admin.register(ConsentEvent)
class ConsentEventAdmin(ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
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
class CustomerMergeAdmin(ClientSearchMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
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
