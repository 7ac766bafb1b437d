"""The demo and benchmark data generator: a believable luxury house, from six boutiques to a million clients.

One generator serves `manage.py seed_demo` and `bench/seed.py`. It writes clients chunk by chunk (one chunk in
memory at a time) with PostgreSQL COPY, taking primary keys from each table's sequence in blocks so that child
rows can point at their parents without a round trip. The rows follow the same rules as the services that
normally write them: an order's lines add up to its total and the order sits on the timeline as
touchpoints.services.orders records it; the consent state is the ledger's latest word; each enrollment's stage
is its last transition's; the metrics come from touchpoints.services.metrics.customer_metrics_refresh, run
once over every client after the last chunk.

Everything is drawn from random.Random seeded per client from (seed, client number), and every date is counted
back from `anchor`: the same seed, size and anchor give the same data, and client n is the same whatever the
size of the run.
"""

from bench.generator.constants import (
    CANCELLED,
    CRM,
    DAYS_IN_PURCHASE,
    DEFAULT_CHUNK_SIZE,
    ECOMMERCE,
    FULFILLED,
    HISTORY_DAYS,
    HISTORY_TRIGGERS,
    IMPORTED_BEFORE_DAYS,
    LIFECYCLE_JOURNEY_SLUG,
    PLACED,
    POS,
    RETURNED,
)
from bench.generator.runner import GenerationResult, default_anchor, demo_data_delete, generate
from bench.generator.tables import (
    CONSENT_EVENTS,
    CUSTOMERS,
    ENROLLMENTS,
    IDENTITIES,
    INTERACTIONS,
    ORDER_LINES,
    ORDERS,
    TABLES,
    TRANSITIONS,
    WRITERS,
)

__all__ = [
    "CANCELLED",
    "CONSENT_EVENTS",
    "CRM",
    "CUSTOMERS",
    "DAYS_IN_PURCHASE",
    "DEFAULT_CHUNK_SIZE",
    "ECOMMERCE",
    "ENROLLMENTS",
    "FULFILLED",
    "HISTORY_DAYS",
    "HISTORY_TRIGGERS",
    "IDENTITIES",
    "IMPORTED_BEFORE_DAYS",
    "INTERACTIONS",
    "LIFECYCLE_JOURNEY_SLUG",
    "ORDERS",
    "ORDER_LINES",
    "PLACED",
    "POS",
    "RETURNED",
    "TABLES",
    "TRANSITIONS",
    "WRITERS",
    "GenerationResult",
    "default_anchor",
    "demo_data_delete",
    "generate",
]
