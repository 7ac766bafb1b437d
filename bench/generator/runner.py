"""The generator's entry points: generate, default_anchor, GenerationResult and demo_data_delete."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import pgtrigger
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from bench import vocabulary as vocab
from bench.generator.client import _ClientBuilder
from bench.generator.constants import (
    DEFAULT_CHUNK_SIZE,
    HISTORY_TRIGGERS,
)
from bench.generator.history import _Chunk
from bench.generator.house import (
    _install_house,
)
from bench.generator.tables import (
    TABLES,
    WRITERS,
    _Ids,
)
from customers.models import (
    Advisor,
    Boutique,
    Customer,
    Persona,
)
from customers.services import staff_groups_sync
from journeys.models import Enrollment
from touchpoints.models import Interaction, Order, Product
from touchpoints.services.metrics import customer_metrics_refresh

# --- The generator ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationResult:
    """What a run wrote: rows per table (by model label) and how long it took."""

    counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def default_anchor() -> dt.datetime:
    """Today at midnight UTC: the moment the generated history runs up to."""
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def generate(
    *,
    customers: int = 2_000,
    seed: int = 42,
    password: str,
    anchor: dt.datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    method: str = "copy",
    start: int = 0,
) -> GenerationResult:
    """Create the demo house and `customers` clients with two years of history, and return what was written.

    `anchor` (aware; default today 00:00 UTC) is the end of the history; with the same seed, size and anchor the
    data is the same. `progress` is called with the number of clients done after each chunk. `method` "copy"
    writes with COPY, one transaction per chunk; "orm" writes one `Model.objects.create()` per row (the
    benchmark's baseline). `start` numbers the first client, so a second run can add clients after a first.
    Staff logins get `password`. The clients' numbers must not exist yet: emails and external ids derive from them.
    """
    if customers < 0 or chunk_size < 1 or start < 0 or seed < 0:
        raise ValueError("customers and start must be >= 0, seed >= 0 and chunk_size >= 1.")
    if method not in WRITERS:
        raise ValueError(f"Unknown method {method!r}; use one of {', '.join(WRITERS)}.")
    anchor = anchor or default_anchor()
    if timezone.is_naive(anchor):
        raise ValueError("The anchor must be timezone-aware.")
    began = time.perf_counter()
    writer = WRITERS[method]()
    with transaction.atomic():
        house = _install_house(seed=seed, password=password, anchor=anchor)
        # The demo staff get the groups (permissions) of their roles, as advisor_save gives them.
        staff_groups_sync()
    counts = dict(house.counts)
    block = min(chunk_size, max(customers, 1))
    ids = {
        "customer": _Ids(Customer, block),
        "order": _Ids(Order, block * 4),
        "interaction": _Ids(Interaction, block * 16),
        "enrollment": _Ids(Enrollment, block),
    }
    builder = _ClientBuilder(house=house, seed=seed, anchor=anchor, ids=ids)
    for chunk_start in range(start, start + customers, chunk_size):
        chunk_end = min(chunk_start + chunk_size, start + customers)
        chunk = _Chunk()
        with writer.transaction(), pgtrigger.ignore(*HISTORY_TRIGGERS):
            # pgtrigger sets its switch (transaction-local) on the next statement Django runs; COPY goes round
            # Django's cursor, so this statement sets it for the whole chunk.
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            for index in range(chunk_start, chunk_end):
                builder.add(index, chunk)
            for table in TABLES:
                writer.write(table, chunk.rows[table])
                counts[table.label] = counts.get(table.label, 0) + len(chunk.rows[table])
            if writer.refresh_per_chunk:
                # The metrics come from the one service that computes them, set-based over the chunk's clients.
                customer_metrics_refresh(customer_ids=chunk.customer_ids)
        if progress is not None:
            progress(chunk_end - chunk_start)
    if not writer.refresh_per_chunk:
        with connection.cursor() as cursor:
            # Fresh statistics give the refresh (and the demo's first pages) good plans on the new volumes.
            for table in TABLES:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table.db_table)}")
        with transaction.atomic(), pgtrigger.ignore(*HISTORY_TRIGGERS):
            customer_metrics_refresh()
    return GenerationResult(counts=counts, seconds=time.perf_counter() - began)


def demo_data_delete() -> None:
    """Delete every client with their whole history, and the demo's boutiques, staff, personas and products.

    Touchpoint types, journeys, rules, templates and surveys stay; so do staff accounts the demo did not create,
    and boutiques such staff still work for.
    """
    user_model = get_user_model()
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        # Rows written earlier in this transaction leave deferred foreign-key checks that TRUNCATE refuses to skip.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # CASCADE reaches exactly the per-client tables (identities, consent, orders and lines, interactions,
        # enrollments and transitions, follow-ups, invitations and responses, merges), never the configuration.
        cursor.execute(f"TRUNCATE {quote(Customer._meta.db_table)}, {quote(Product._meta.db_table)} CASCADE")
        user_model.objects.filter(username__in=vocab.staff_usernames()).delete()
        Persona.objects.filter(slug__in=[persona.slug for persona in vocab.PERSONAS]).delete()
        Boutique.objects.filter(code__in=[boutique.code for boutique in vocab.BOUTIQUES]).exclude(
            pk__in=Advisor.objects.filter(boutique__isnull=False).values("boutique_id")
        ).delete()
