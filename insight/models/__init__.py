"""Insight's tables. One module per part (rollups, predictions, alerts), each imported here so that Django sees
one models module for the app."""

from insight.models.rollups import StageStay, ValueDay, ValueFact

__all__ = ["StageStay", "ValueDay", "ValueFact"]
