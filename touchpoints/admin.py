"""Admin for touchpoint types and products (editable) and for orders, interactions and appointments (shown only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from core.admin import TIMESTAMPS, SpreadsheetExportMixin, ViewOnlyAdminMixin
from core.money import format_money
from customers.admin import SOURCE_SEARCH_HELP, BoutiqueScopedAdminMixin, ClientSearchMixin
from touchpoints.models import Appointment, Interaction, Order, OrderLine, Product, TouchpointType


@admin.register(TouchpointType)
class TouchpointTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "channel", "kind", "usual_stage", "is_active"]
    list_filter = ["channel", "kind", "usual_stage", "is_active"]
    search_fields = ["name", "code"]
    ordering = ["name"]
    readonly_fields = TIMESTAMPS


@admin.register(Product)
class ProductAdmin(SpreadsheetExportMixin, admin.ModelAdmin):
    export_kind = "products"
    list_display = ["name", "sku", "category", "collection", "price", "currency", "is_active"]
    list_filter = ["is_active", "category", "currency"]
    search_fields = ["sku", "name", "collection"]
    ordering = ["name"]
    readonly_fields = TIMESTAMPS


class OrderLineInline(ViewOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = ["line_number", "sku", "product", "product_name", "category", "quantity", "unit_price", "is_return"]
    readonly_fields = fields
    ordering = ["line_number"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Order)
class OrderAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, SpreadsheetExportMixin,
                 admin.ModelAdmin):
    """Written only by order_record, which also puts the order on the timeline and refreshes the client's
    metrics; an order changed here would leave both out of date. Corrections come from the source system.
    Exported as their lines, in the order file's form."""

    export_kind = "orders"

    list_display = ["placed_at", "external_id", "source", "customer", "boutique", "channel", "status", "amount",
                    "amount_house"]
    list_filter = ["status", "source", "channel", "boutique", ("placed_at", admin.DateFieldListFilter)]
    list_select_related = ["customer", "boutique"]
    search_fields = ["customer__email", "external_id"]
    source_field = "source"
    search_help_text = SOURCE_SEARCH_HELP
    ordering = ["-placed_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "advisor"]
    readonly_fields = TIMESTAMPS
    inlines = [OrderLineInline]

    @admin.display(description="Total", ordering="total")
    def amount(self, order: Order) -> str:
        return format_money(order.total, order.currency)

    @admin.display(description="In house currency", ordering="total_house")
    def amount_house(self, order: Order) -> str:
        return format_money(order.total_house, settings.HOUSE_CURRENCY)


@admin.register(OrderLine)
class OrderLineAdmin(BoutiqueScopedAdminMixin, ViewOnlyAdminMixin, SpreadsheetExportMixin, admin.ModelAdmin):
    """Lines belong to their order (order_record replaces them together); listed here to find sales of a SKU."""

    export_kind = "orders"

    list_display = ["order", "line_number", "sku", "product_name", "category", "quantity", "unit_price", "is_return"]
    list_filter = ["is_return"]
    list_select_related = ["order"]
    # Through the catalogue product: order lines have no index on their own SKU column, products have a unique one.
    search_fields = ["product__sku__exact"]
    search_help_text = "The SKU of a catalogue product (exact)."
    ordering = ["-pk"]
    show_full_result_count = False
    raw_id_fields = ["order", "product"]


@admin.register(Interaction)
class InteractionAdmin(BoutiqueScopedAdminMixin, ClientSearchMixin, ViewOnlyAdminMixin, SpreadsheetExportMixin,
                       admin.ModelAdmin):
    """Written only by interaction_record (and order_record), which keep one row per (source, external id) and
    the client's last interaction date. Purchases and returns export with their orders, not here."""

    export_kind = "interactions"

    list_display = ["occurred_at", "customer", "touchpoint_type", "channel", "boutique", "advisor", "amount",
                    "currency", "source", "external_id"]
    list_filter = ["touchpoint_type", "channel", "source", "boutique", ("occurred_at", admin.DateFieldListFilter)]
    list_select_related = ["customer", "touchpoint_type", "boutique", "advisor__user"]
    search_fields = ["customer__email", "external_id"]
    source_field = "source"
    search_help_text = SOURCE_SEARCH_HELP
    ordering = ["-occurred_at", "-pk"]
    show_full_result_count = False
    autocomplete_fields = ["customer", "advisor", "order"]
    readonly_fields = ["created_at"]


@admin.register(Appointment)
class AppointmentAdmin(BoutiqueScopedAdminMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """Written only by touchpoints.services.appointments (booked from the client page, then attended, cancelled
    or missed), which hold the boutique-clock, reach and outcome rules."""

    list_display = ["starts_at", "customer", "advisor", "boutique", "purpose", "status"]
    list_filter = ["status", "boutique", ("starts_at", admin.DateFieldListFilter)]
    list_select_related = ["customer", "advisor__user", "boutique"]
    search_fields = ["customer__email", "purpose"]
    ordering = ["-starts_at", "-pk"]
    show_full_result_count = False
    raw_id_fields = ["customer", "advisor", "interaction", "created_by"]
    readonly_fields = TIMESTAMPS
