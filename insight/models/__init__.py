"""Insight's tables. One module per part (rollups, predictions, alerts), each imported here so that Django sees
one models module for the app."""

from insight.models.alerts import Alert, CalendarPeriod
from insight.models.predictions import ChurnBand, ClientPrediction, Method, ModelRun
from insight.models.rollups import StageStay, ValueDay, ValueFact

__all__ = [
    "Alert", "CalendarPeriod", "ChurnBand", "ClientPrediction", "Method", "ModelRun", "StageStay", "ValueDay",
    "ValueFact",
]
