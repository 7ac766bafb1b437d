"""Foresight in the API: the `prediction` section of one client (`/customers/{id}/`), registered by InsightConfig."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from customers.models import Customer
from insight.models import ClientPrediction


class PredictionSerializer(serializers.ModelSerializer):
    """The client's latest prediction, or null before their first net purchase is scored. `method` says whether the
    model or the RFM estimate (too little data for the model) produced it; the interval is null for the latter."""

    run_id = serializers.IntegerField(read_only=True)
    currency = serializers.SerializerMethodField()
    is_model = serializers.SerializerMethodField()

    class Meta:
        model = ClientPrediction
        fields = [
            "method", "is_model", "run_id", "scored_at", "probability_alive", "expected_purchases_90",
            "expected_purchases_365", "predicted_value_12m", "value_low", "value_high", "currency", "churn_band",
            "purchase_days", "typical_gap_days", "first_purchase_on", "last_purchase_on",
        ]
        read_only_fields = fields

    def get_currency(self, prediction: ClientPrediction) -> str:
        return settings.HOUSE_CURRENCY

    def get_is_model(self, prediction: ClientPrediction) -> bool:
        return prediction.method == "model"


class ClientPredictionField(PredictionSerializer):
    """The section as a field of the client's representation: `source="*"` hands it the client."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, customer: Customer) -> dict[str, Any] | None:
        prediction = ClientPrediction.objects.filter(customer=customer).first()
        return None if prediction is None else super().to_representation(prediction)
