"""Insight in the admin: one module per part, imported here so that the admin finds them."""

from insight import admin_alerts, admin_predictions  # noqa: F401
