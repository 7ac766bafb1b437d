"""Products, order lines and interactions as rows of a file (django-import-export), keyed on their natural ids.

An order file has one row per order line, its order's columns repeated on each line; the importer groups the rows
by (source, order_id) and records each order with order_record. Columns are the importer's field names
(imports/columns.md).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from import_export.fields import Field
from import_export.widgets import DecimalWidget, ForeignKeyWidget, IntegerWidget

from core.resources import LIST_SEPARATOR, ExportResource, IsoDateTimeWidget, JsonWidget
from customers.models import Advisor, Boutique, CustomerIdentity, SourceSystem
from touchpoints.models import Interaction, OrderLine, Product, TouchpointType

PRODUCT_COLUMNS = ("sku", "name", "category", "collection", "price", "currency", "is_active")
ORDER_LINE_COLUMNS = (
    "source", "order_id", "public_id", "crm_id", "boutique", "advisor", "channel", "placed_at", "status", "currency",
    "order_total", "line_number", "sku", "product_name", "category", "quantity", "unit_price", "is_return",
)
INTERACTION_COLUMNS = (
    "source", "external_id", "public_id", "touchpoint_type", "occurred_at", "channel", "boutique", "advisor", "amount",
    "currency", "note", "metadata",
)
# Where a staff member's note sits in an interaction's metadata (touchpoints.services.staff.interaction_log).
NOTE_KEY = "note"


class ProductResource(ExportResource):
    """A catalogue article by its SKU."""

    export_ordering = ("sku",)

    class Meta:
        model = Product
        fields = PRODUCT_COLUMNS
        export_order = PRODUCT_COLUMNS
        import_id_fields = ("sku",)
        skip_unchanged = True


def _crm_identities() -> Prefetch:
    # Only the CRM ids, onto the client as a list: one query per chunk of lines, however many lines a client has.
    return Prefetch(
        "order__customer__identities",
        queryset=CustomerIdentity.objects.filter(system=SourceSystem.CRM).order_by("external_id"),
        to_attr="crm_identities",
    )


class OrderLineResource(ExportResource):
    """One order line with its order: (source, order_id, line_number) is its natural key."""

    source = Field(attribute="order__source", column_name="source")
    order_id = Field(attribute="order__external_id", column_name="order_id")
    public_id = Field(attribute="order__customer__public_id", column_name="public_id")
    crm_id = Field(column_name="crm_id", readonly=True)
    boutique = Field(attribute="order__boutique", column_name="boutique",
                     widget=ForeignKeyWidget(Boutique, field="code"))
    advisor = Field(attribute="order__advisor", column_name="advisor",
                    widget=ForeignKeyWidget(Advisor, field="user__email"))
    channel = Field(attribute="order__channel", column_name="channel")
    placed_at = Field(attribute="order__placed_at", column_name="placed_at", widget=IsoDateTimeWidget())
    status = Field(attribute="order__status", column_name="status")
    currency = Field(attribute="order__currency", column_name="currency")
    order_total = Field(attribute="order__total", column_name="order_total", widget=DecimalWidget())
    quantity = Field(attribute="quantity", column_name="quantity", widget=IntegerWidget())

    export_select_related = ("order__customer", "order__boutique", "order__advisor__user")
    export_prefetch_related = (_crm_identities(),)
    # An order's lines together and in order, as the importer groups them.
    export_ordering = ("order_id", "line_number")

    class Meta:
        model = OrderLine
        fields = ORDER_LINE_COLUMNS
        export_order = ORDER_LINE_COLUMNS
        import_id_fields = ("source", "order_id", "line_number")

    def dehydrate_crm_id(self, line: OrderLine) -> str:
        return LIST_SEPARATOR.join(identity.external_id for identity in line.order.customer.crm_identities)


class InteractionResource(ExportResource):
    """A touchpoint by (source, external_id), its type by code.

    A staff member's note is a column of its own; the rest of the metadata is one JSON column. Purchases and
    returns are left out: they belong to their orders, which the order file carries (order_record puts them back).
    """

    public_id = Field(attribute="customer__public_id", column_name="public_id")
    touchpoint_type = Field(attribute="touchpoint_type", column_name="touchpoint_type",
                            widget=ForeignKeyWidget(TouchpointType, field="code"))
    boutique = Field(attribute="boutique", column_name="boutique", widget=ForeignKeyWidget(Boutique, field="code"))
    advisor = Field(attribute="advisor", column_name="advisor", widget=ForeignKeyWidget(Advisor, field="user__email"))
    note = Field(column_name="note", readonly=True)
    metadata = Field(attribute="metadata", column_name="metadata", widget=JsonWidget())

    export_select_related = ("customer", "touchpoint_type", "boutique", "advisor__user")

    class Meta:
        model = Interaction
        fields = INTERACTION_COLUMNS
        export_order = INTERACTION_COLUMNS
        import_id_fields = ("source", "external_id")

    def export_queryset(self, queryset):
        return super().export_queryset(queryset.filter(order__isnull=True))

    def dehydrate_note(self, interaction: Interaction) -> str:
        note = (interaction.metadata or {}).get(NOTE_KEY)
        return note if isinstance(note, str) else ""

    def dehydrate_metadata(self, interaction: Interaction) -> str:
        return self.fields["metadata"].widget.render(metadata_without_note(interaction.metadata))


def metadata_without_note(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata the `metadata` column holds: all of it but a text note, which has its own column."""
    metadata = dict(metadata or {})
    if isinstance(metadata.get(NOTE_KEY), str):
        del metadata[NOTE_KEY]
    return metadata
