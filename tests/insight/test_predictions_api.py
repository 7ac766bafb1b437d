"""The client's prediction in the API: `/customers/{id}/` gains a `prediction` section, declared in the schema."""

from __future__ import annotations

import pytest
from django.test import override_settings

from insight.services.predictions import predictions_refit
from tests.api.conftest import key_client
from tests.insight.predictions_data import NOW, house_with_purchases

pytestmark = pytest.mark.django_db


def test_the_client_detail_has_the_prediction_and_the_method_that_made_it():
    clients = house_with_purchases(clients=300, seed=8)
    run = predictions_refit(now=NOW)
    api, _ = key_client(scopes=["customers:read"])

    body = api.get(f"/api/v1/customers/{clients[0].public_id}/").json()

    prediction = body["prediction"]
    assert (prediction["method"], prediction["is_model"], prediction["run_id"]) == ("model", True, run.pk)
    assert prediction["currency"] == "EUR"
    assert set(prediction) == {
        "method", "is_model", "run_id", "scored_at", "probability_alive", "expected_purchases_90",
        "expected_purchases_365", "predicted_value_12m", "value_low", "value_high", "currency", "churn_band",
        "purchase_days", "typical_gap_days", "first_purchase_on", "last_purchase_on",
    }
    assert prediction["churn_band"] in {"low", "medium", "high"}


@override_settings(INSIGHT_MIN_REPEAT_BUYERS=10_000)
def test_the_rfm_fallback_says_so_and_has_no_interval():
    clients = house_with_purchases(clients=40, seed=9)
    predictions_refit(now=NOW)
    api, _ = key_client(scopes=["customers:read"])

    prediction = api.get(f"/api/v1/customers/{clients[0].public_id}/").json()["prediction"]

    assert (prediction["method"], prediction["is_model"]) == ("rfm", False)
    assert (prediction["value_low"], prediction["value_high"]) == (None, None)


def test_a_client_never_scored_has_a_null_prediction_and_the_list_has_none():
    clients = house_with_purchases(clients=3, seed=10)
    api, _ = key_client(scopes=["customers:read"])

    assert api.get(f"/api/v1/customers/{clients[0].public_id}/").json()["prediction"] is None
    assert "prediction" not in api.get("/api/v1/customers/").json()["results"][0]


def test_the_schema_declares_the_prediction_section():
    api, _ = key_client(scopes=["customers:read"])

    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    detail = schema["components"]["schemas"]["CustomerDetail"]["properties"]
    assert "prediction" in detail
