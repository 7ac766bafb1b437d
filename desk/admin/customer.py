"""The client admin: the list staff search and act on, and the client page (customer 360).

It lives in `desk`, above every app, because the client page shows what all of them hold (journeys, follow-ups,
feedback) and the apps below may not import each other.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.admin import TIMESTAMPS, ViewOnlyAdminMixin
from core.errors import ApplicationError
from customers.admin import BoutiqueScopedAdminMixin
from customers.models import Customer, CustomerIdentity
from customers.normalizers import normalize_country, normalize_email, normalize_phone, normalize_preferences
from customers.services.profile import customer_update, customer_update_check
from desk.admin.list import ClientListMixin
from desk.admin.page import ClientPageMixin
from desk.admin.privacy import PrivacyActionsMixin


class CustomerAdminForm(forms.ModelForm):
    """Cleans email, phone and preferences with the same functions as every other entry point, so the admin can
    neither store a value the services would refuse nor word the refusal differently."""

    # A CharField, not an EmailField: the shared normalizer alone decides what a valid address is, and says why.
    email = forms.CharField(required=False, max_length=254)
    # Wider than the stored E.164 number: staff type spaces, dots and brackets, which the normalizer removes.
    phone = forms.CharField(
        required=False, max_length=40, help_text="Local numbers are read in the home boutique's country."
    )

    # The staff member editing (CustomerAdmin.get_form): the service's scope checks are theirs.
    actor = None

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

    def clean(self) -> dict:
        cleaned = super().clean()
        changes = {name: cleaned[name] for name in self.changed_data if name in cleaned}
        if self.instance.pk and changes:
            # Before the form copies its values onto the client: the check compares with the client as stored.
            try:
                customer_update_check(customer=self.instance, changes=changes, actor=self.actor)
            except ApplicationError as error:
                for name, messages in (error.fields or {None: [error.message]}).items():
                    for message in messages:
                        self.add_error(name if name in self.fields else None, message)
        return cleaned

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
class CustomerAdmin(ClientPageMixin, ClientListMixin, PrivacyActionsMixin, BoutiqueScopedAdminMixin, admin.ModelAdmin):
    """Profile fields are editable; the value metrics, tier and consent are derived by services and only shown.

    Clients are not added here: they arrive from the POS, ecommerce and imports through customer_upsert, which
    finds the existing record before creating one. Nor are they deleted here: a client leaves through a merge or
    an anonymization, which keep their audit trail.
    """

    form = CustomerAdminForm
    actions = [*ClientListMixin.list_actions, *PrivacyActionsMixin.privacy_actions]
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user  # a class of this request's own: get_form builds a new one on each call
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
        elif form.changed_data:
            # Only what the form changed, through the service (a full save would write back metrics and consent
            # this request read, undoing a refresh that committed in between).
            customer_update(customer=obj, changes={name: form.cleaned_data[name] for name in form.changed_data},
                            actor=request.user)
