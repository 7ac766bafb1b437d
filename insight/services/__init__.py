"""Insight's writes: one module per part (rollups, predictions, alerts)."""
