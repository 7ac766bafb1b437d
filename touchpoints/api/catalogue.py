"""Read endpoints of the catalogue: touchpoint types and products (scope catalogue:read)."""

from __future__ import annotations

import django_filters
from rest_framework import serializers, viewsets

from core.filtering import IsoDateTimeFilter, StrictBooleanFilter
from touchpoints.models import Product, TouchpointType


class TouchpointTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TouchpointType
        fields = ["id", "code", "name", "channel", "kind", "usual_stage", "is_active"]


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "category", "collection", "price", "currency", "is_active", "updated_at"]


class TouchpointTypeFilterSet(django_filters.FilterSet):
    """Touchpoint types by channel, kind, usual stage and whether they are in use."""

    is_active = StrictBooleanFilter(label="In use")

    class Meta:
        model = TouchpointType
        fields = ["code", "channel", "kind", "usual_stage", "is_active"]


class ProductFilterSet(django_filters.FilterSet):
    """Products by SKU, category, collection, name prefix and last change."""

    q = django_filters.CharFilter(field_name="name", lookup_expr="istartswith", label="Name starts with")
    is_active = StrictBooleanFilter(label="On sale")
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated at or after (ISO 8601)"
    )

    class Meta:
        model = Product
        fields = ["sku", "category", "collection", "is_active"]


class TouchpointTypeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = TouchpointType.objects.all()
    serializer_class = TouchpointTypeSerializer
    filterset_class = TouchpointTypeFilterSet
    ordering_fields = ["name", "code"]
    read_scope = "catalogue:read"


class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    ordering_fields = ["name", "sku", "price", "updated_at"]
    read_scope = "catalogue:read"
