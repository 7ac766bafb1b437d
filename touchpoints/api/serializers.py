"""Serializers of touchpoints' API: read shapes, and input shapes that document what a write accepts.

Writes are checked by the services (touchpoints.services.bulk), item by item with the same rules as the admin and
the importer; the input serializers here describe the body for the schema and hold no rule.
"""

from __future__ import annotations

from rest_framework import serializers

from customers.models import Channel, SourceSystem
from touchpoints.models import Interaction, Order, OrderLine
from touchpoints.services.bulk import MAX_ITEMS, ItemStatus


class HidesClientMixin:
    """The client's public id only for callers who may read clients (context `shows_clients`): a key that may
    write interactions or orders, but not read clients, learns nothing about who they belong to."""

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("shows_clients", True):
            data["customer"] = None
        return data


class InteractionSerializer(HidesClientMixin, serializers.ModelSerializer):
    customer = serializers.UUIDField(source="customer.public_id", read_only=True, allow_null=True)
    touchpoint_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    boutique = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    advisor = serializers.IntegerField(source="advisor_id", read_only=True, allow_null=True)
    order = serializers.IntegerField(source="order_id", read_only=True, allow_null=True)

    class Meta:
        model = Interaction
        fields = ["id", "customer", "touchpoint_type", "occurred_at", "channel", "boutique", "advisor", "source",
                  "external_id", "amount", "currency", "order", "metadata", "created_at"]
        read_only_fields = fields


class OrderLineSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="product_id", read_only=True, allow_null=True)

    class Meta:
        model = OrderLine
        fields = ["line_number", "sku", "product", "product_name", "category", "quantity", "unit_price", "is_return"]
        read_only_fields = fields


class OrderSerializer(HidesClientMixin, serializers.ModelSerializer):
    customer = serializers.UUIDField(source="customer.public_id", read_only=True, allow_null=True)
    boutique = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    advisor = serializers.IntegerField(source="advisor_id", read_only=True, allow_null=True)
    lines = OrderLineSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ["id", "source", "external_id", "customer", "boutique", "advisor", "channel", "placed_at", "status",
                  "currency", "total", "total_house", "lines", "created_at", "updated_at"]
        read_only_fields = fields


class ClientIdentityInputSerializer(serializers.Serializer):
    system = serializers.ChoiceField(choices=SourceSystem.choices, required=False)
    external_id = serializers.CharField(required=False, max_length=128)
    email = serializers.EmailField(required=False)


class InteractionInputSerializer(serializers.Serializer):
    """One interaction to record. Name the client by `customer` (public id) or by `client` (identity or email;
    found, or created, as client imports do; needs the customers:write scope, and never changes a client found)."""

    customer = serializers.UUIDField(required=False)
    client = ClientIdentityInputSerializer(required=False)
    touchpoint_type = serializers.CharField(help_text="A touchpoint type's code, e.g. store_visit, cart_abandoned.")
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with its time zone.")
    source = serializers.ChoiceField(choices=SourceSystem.choices)
    external_id = serializers.CharField(required=False, max_length=160,
                                        help_text="The source's id: the same (source, external_id) is recorded once.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False,
                                      help_text="Defaults to the touchpoint type's.")
    boutique = serializers.CharField(required=False, help_text="A boutique's code.")
    advisor = serializers.IntegerField(required=False)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    currency = serializers.CharField(required=False, min_length=3, max_length=3)
    metadata = serializers.DictField(required=False)


class OrderLineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    quantity = serializers.IntegerField(help_text="Negative for a returned article (with is_return).")
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    product_name = serializers.CharField(required=False, max_length=160)
    category = serializers.CharField(required=False, max_length=60)
    is_return = serializers.BooleanField(required=False, default=False)


class OrderInputSerializer(serializers.Serializer):
    """One order to record (or to update: the same (source, external_id) with another status or other lines)."""

    customer = serializers.UUIDField(required=False)
    client = ClientIdentityInputSerializer(required=False)
    source = serializers.ChoiceField(choices=SourceSystem.choices)
    external_id = serializers.CharField(max_length=128)
    placed_at = serializers.DateTimeField(help_text="ISO 8601 with its time zone.")
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    currency = serializers.CharField(min_length=3, max_length=3)
    total = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The sum of the lines.")
    boutique = serializers.CharField(required=False, help_text="A boutique's code.")
    advisor = serializers.IntegerField(required=False)
    lines = OrderLineInputSerializer(many=True)


class BulkRequestSerializer(serializers.Serializer):
    """Up to MAX_ITEMS items; each is checked on its own, so one bad item never refuses the others."""

    items = serializers.ListField(child=serializers.JSONField(), max_length=MAX_ITEMS, allow_empty=False)


class BulkInteractionsRequestSerializer(BulkRequestSerializer):
    items = serializers.ListField(child=InteractionInputSerializer(), max_length=MAX_ITEMS)


class BulkOrdersRequestSerializer(BulkRequestSerializer):
    items = serializers.ListField(child=OrderInputSerializer(), max_length=MAX_ITEMS)


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ItemStatus.CHOICES)
    id = serializers.IntegerField(required=False)
    message = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = ItemResultSerializer(many=True)
