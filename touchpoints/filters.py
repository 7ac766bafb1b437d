"""Filters over interactions and orders, for the API's lists (and the admin's, should it want them)."""

from __future__ import annotations

import django_filters

from core.filtering import IdFilter, IsoDateTimeFilter
from customers.models import Channel, SourceSystem
from touchpoints.models import Interaction, Order


class InteractionFilterSet(django_filters.FilterSet):
    """Interactions by client, touchpoint type, channel, boutique and time."""

    customer = django_filters.UUIDFilter(field_name="customer__public_id", label="Client (public id)")
    touchpoint_type = django_filters.CharFilter(field_name="touchpoint_type__code", label="Touchpoint type (code)")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label="Channel")
    boutique_id = IdFilter(field_name="boutique_id", label="Boutique (id)")
    source = django_filters.ChoiceFilter(choices=SourceSystem.choices, label="Source system")
    external_id = django_filters.CharFilter(label="External id (with source)")
    occurred_since = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Occurred at or after"
    )
    occurred_before = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", label="Occurred before"
    )

    class Meta:
        model = Interaction
        fields: list[str] = []


class OrderFilterSet(django_filters.FilterSet):
    """Orders by client, boutique, status, channel, source id and time."""

    customer = django_filters.UUIDFilter(field_name="customer__public_id", label="Client (public id)")
    boutique_id = IdFilter(field_name="boutique_id", label="Boutique (id)")
    advisor_id = IdFilter(field_name="advisor_id", label="Advisor (id)")
    status = django_filters.ChoiceFilter(choices=Order.Status.choices, label="Status")
    channel = django_filters.ChoiceFilter(choices=Channel.choices, label="Channel")
    source = django_filters.ChoiceFilter(choices=SourceSystem.choices, label="Source system")
    external_id = django_filters.CharFilter(label="External id (with source)")
    placed_since = IsoDateTimeFilter(
        field_name="placed_at", lookup_expr="gte", label="Placed at or after"
    )
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated at or after"
    )

    class Meta:
        model = Order
        fields: list[str] = []
