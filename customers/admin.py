"""Admin for boutiques, advisors, personas, segments and clients: plain, but fit for 100,000+ clients."""

from __future__ import annotations

import uuid

from django.contrib import admin
from django.db.models import Q

from core.admin import TIMESTAMPS, ViewOnlyAdminMixin
from customers.models import (
    Advisor,
    Boutique,
    ClientHandover,
    ConsentEvent,
    CustomerIdentity,
    CustomerMerge,
    Persona,
    Segment,
    SourceSystem,
)

SOURCE_SEARCH_HELP = "A client's email address or public id, or the id the source system gave (exact)."


class BoutiqueScopedAdminMixin:
    """Staff reach only their boutique's clients (customers.scoping): in the list, on a page opened by URL, in
    exports, autocompletes and the choices of every foreign key. Head office and superusers reach all."""

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        manager = db_field.related_model._default_manager
        if "queryset" not in kwargs and hasattr(manager, "visible_to"):
            kwargs["queryset"] = manager.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


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
class AdvisorAdmin(BoutiqueScopedAdminMixin, admin.ModelAdmin):
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
    fields = ["from_advisor", "boutique", "client_count", "allocation", "handed_over_by", "note", "created_at"]
    readonly_fields = fields
