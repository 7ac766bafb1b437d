"""What insight's API reads from the query string and answers: one query serializer for the period and the slices
(the pages read the same one), the funnel's stages and the value figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from core.querystrings import BIGINT_MAX, GIVE_ONCE, repeated
from customers.models import ValueTier
from insight.selectors.scope import Slices

# The longest period one call sums: three years and a day, so a period and the same one last year stay in reach.
MAX_PERIOD_DAYS = 3 * 366


class FigureQuerySerializer(serializers.Serializer):
    """The period (both days included, on the back office's calendar) and the slices of clients."""

    since = serializers.DateField(help_text="First day, YYYY-MM-DD.")
    until = serializers.DateField(help_text="Last day, YYYY-MM-DD (included).")
    boutique_id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX,
                                           help_text="Only the clients of this (home) boutique.")
    advisor_id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX,
                                          help_text="Only the clients of this advisor's book.")
    persona_id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX,
                                          help_text="Only the clients of this persona.")
    value_tier = serializers.ChoiceField(choices=ValueTier.choices, required=False, help_text="Only this tier.")

    def __init__(self, *args: Any, names: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if names is not None:
            for name in [name for name in self.fields if name not in names]:
                del self.fields[name]

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        twice = repeated(data, self.fields) if hasattr(data, "getlist") else []
        if twice:
            raise serializers.ValidationError({name: [GIVE_ONCE] for name in twice})
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["until"] < attrs["since"]:
            raise serializers.ValidationError({"until": ["The period ends before it starts."]})
        if (attrs["until"] - attrs["since"]).days >= MAX_PERIOD_DAYS:
            raise serializers.ValidationError({"until": [f"A period is at most {MAX_PERIOD_DAYS} days."]})
        if attrs["since"] < dt.date(1900, 1, 1):
            raise serializers.ValidationError({"since": ["Give a day from 1900 on."]})
        return attrs

    def slices(self) -> Slices:
        return Slices(**self.validated_data)


class StageMoveSerializer(serializers.Serializer):
    to_stage = serializers.IntegerField(help_text="The stage moved on to (its id).")
    clients = serializers.IntegerField()


class FunnelStageSerializer(serializers.Serializer):
    """One stage of the journey map for the period."""

    stage = serializers.IntegerField(help_text="The stage's id.")
    name = serializers.CharField()
    position = serializers.IntegerField()
    target_days = serializers.IntegerField(allow_null=True)
    entered = serializers.IntegerField(help_text="Clients who entered the stage in the period.")
    moved_on = serializers.IntegerField(help_text="… who moved to another stage within the target days.")
    dropped = serializers.IntegerField(help_text="… who left the journey, or did not move within the target days.")
    in_stage = serializers.IntegerField(help_text="… still in the stage, within its target days.")
    conversion = serializers.FloatField(allow_null=True, help_text="moved_on / entered.")
    median_days_in_stage = serializers.FloatField(allow_null=True, help_text="Of the stays that ended by a move.")
    p90_days_in_stage = serializers.FloatField(allow_null=True)
    moves = StageMoveSerializer(many=True)


class FunnelSerializer(serializers.Serializer):
    journey = serializers.IntegerField()
    since = serializers.DateField()
    until = serializers.DateField()
    overall_conversion = serializers.FloatField(allow_null=True,
                                                help_text="Entrants of the last stage over those of the first.")
    stages = FunnelStageSerializer(many=True)


class KpiSerializer(serializers.Serializer):
    """Value in the period, net of returns and cancellations, in the house currency."""

    since = serializers.DateField()
    until = serializers.DateField()
    currency = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    orders = serializers.IntegerField(help_text="Purchases: counted orders whose net total is above zero.")
    average_order_value = serializers.DecimalField(max_digits=16, decimal_places=2)
    new_clients = serializers.IntegerField(help_text="Clients whose first purchase falls in the period.")
