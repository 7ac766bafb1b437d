"""Reads of foresight: a client's prediction put in the words an advisor uses, and the clients at risk in a book."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from core.money import format_money
from customers.models import Customer
from insight.models import ChurnBand, ClientPrediction, Method


@dataclass(frozen=True)
class PredictionInWords:
    """What the client page's foresight card says: the facts behind the figures first, then the figures."""

    prediction: ClientPrediction
    because: str
    expected: str
    value: str
    churn_band: str
    is_model: bool
    # For the RFM estimate: why the model was not used (what the house's data lack).
    fallback_note: str


def _days(value: float) -> str:
    return f"{value:.0f} day" + ("" if round(value) == 1 else "s")


def prediction_words(*, prediction: ClientPrediction, today: dt.date) -> PredictionInWords:
    """The client's prediction in words: "usually buys every ~95 days; 140 days since the last purchase; 38% likely
    still active", then the expected purchases and value, and whether an RFM estimate stands in for the model."""
    since = (today - prediction.last_purchase_on).days
    if prediction.purchase_days > 1 and prediction.typical_gap_days:
        because = (f"Usually buys every ~{_days(prediction.typical_gap_days)}; {_days(since)} since the last "
                   f"purchase; {prediction.probability_alive:.0%} likely still active")
    else:
        # BG/NBD only lets a client leave after a repeat purchase, so "likely still active" says nothing here.
        because = f"One purchase so far, {_days(since)} ago"
    expected = (f"{prediction.expected_purchases_90:.1f} purchases expected in the next 90 days, "
                f"{prediction.expected_purchases_365:.1f} in 12 months")
    currency = settings.HOUSE_CURRENCY
    value = f"~{format_money(prediction.predicted_value_12m, currency)} over 12 months"
    if prediction.value_low is not None and prediction.value_high is not None:
        value += (f" (80% between {format_money(prediction.value_low, currency)} and "
                  f"{format_money(prediction.value_high, currency)})")
    note = ""
    if prediction.method == Method.RFM:
        missing = "; ".join(prediction.run.eligibility.get("missing") or [])
        note = ("An RFM estimate from the client's own rhythm: the house's data are too thin for the model"
                + (f" (it needs {missing})." if missing else "."))
    return PredictionInWords(
        prediction=prediction, because=because, expected=expected, value=value,
        churn_band=ChurnBand(prediction.churn_band).label, is_model=prediction.method == Method.MODEL,
        fallback_note=note,
    )


def client_prediction_words(*, customer: Customer, today: dt.date) -> PredictionInWords | None:
    """The client's latest prediction in words, or None before their first net purchase is scored."""
    prediction = ClientPrediction.objects.select_related("run").filter(customer=customer).first()
    return None if prediction is None else prediction_words(prediction=prediction, today=today)


def clients_at_risk(*, clients: QuerySet[Customer], limit: int) -> QuerySet[ClientPrediction]:
    """The predictions of `clients` (already scoped to the book) whose churn risk is high, the most valuable first,
    with the client and their advisor joined."""
    return (
        ClientPrediction.objects.filter(customer__in=clients, churn_band=ChurnBand.HIGH)
        .select_related("customer__advisor__user", "run")
        .order_by("-predicted_value_12m", "customer_id")[:limit]
    )
