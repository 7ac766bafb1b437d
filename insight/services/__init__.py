"""Insight's writes: one module per part (rollups, predictions, alerts)."""

from insight.services.rollups import rollups_rebuild, rollups_reconcile, rollups_refresh_clients

__all__ = ["rollups_rebuild", "rollups_reconcile", "rollups_refresh_clients"]
