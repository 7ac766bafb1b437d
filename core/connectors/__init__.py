"""What every connector to an outside system (a POS, a CRM) shares: the interface, the registry, the HTTP client.

The connector classes live in the app whose data they bring (touchpoints/connectors/ for a POS,
customers/connectors/ for a CRM); the sync app runs them. A connector class registers itself by being defined
(Connector.__init_subclass__) and the sync app imports every installed app's `connectors` package at start, so a
new POS or CRM is one class in one of those packages plus its configuration row in the admin.
"""

from core.connectors.base import (
    RECORD_ERRORS,
    Connector,
    ConnectorError,
    MalformedPage,
    Outcome,
    Page,
    PermanentError,
    RecordRejected,
    TransientError,
    connector_class,
    connector_classes,
    discover_connectors,
    fetch_isolating_refusals,
)
from core.connectors.http import HttpClient, RetryPolicy

__all__ = [
    "RECORD_ERRORS",
    "Connector",
    "ConnectorError",
    "HttpClient",
    "MalformedPage",
    "Outcome",
    "Page",
    "PermanentError",
    "RecordRejected",
    "RetryPolicy",
    "TransientError",
    "connector_class",
    "connector_classes",
    "discover_connectors",
    "fetch_isolating_refusals",
]
