"""The tables the generator writes, the primary keys it takes in blocks, and its COPY and ORM writers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, models, transaction

from customers.models import (
    ConsentEvent,
    Customer,
    CustomerIdentity,
)
from journeys.models import Enrollment, Transition
from touchpoints.models import Interaction, Order, OrderLine

# --- Tables ---------------------------------------------------------------------------------------------------


class _Table:
    """A model written by COPY: the fields (attnames) of its rows, in order, and the columns they go to."""

    def __init__(self, model: type[models.Model], fields: tuple[str, ...]) -> None:
        self.model = model
        self.fields = fields
        self.label = model._meta.label
        self.db_table = model._meta.db_table
        model_fields = [model._meta.get_field(name) for name in fields]
        self.columns = [model_field.column for model_field in model_fields]
        self.json_positions = [i for i, f in enumerate(model_fields) if isinstance(f, models.JSONField)]
        # COPY bypasses Django's defaults: fail loudly if a model grows a required column this list lacks.
        missing = [
            f.name
            for f in model._meta.concrete_fields
            if f.attname not in fields and not f.null and not f.primary_key and not f.generated
            and f.db_default is models.NOT_PROVIDED
        ]
        if missing:
            raise RuntimeError(f"bench.generator does not fill {self.label}.{', '.join(missing)}; add them.")


CUSTOMERS = _Table(Customer, (
    "id", "public_id", "first_name", "last_name", "email", "phone", "birth_date", "language", "city", "country",
    "home_boutique_id", "advisor_id", "persona_id", "value_tier", "preferences", "advisor_notes", "consent",
    "lifetime_value", "order_count", "average_order_value", "last_interaction_at", "is_anonymized",
    "created_at", "updated_at",
))
IDENTITIES = _Table(CustomerIdentity, ("customer_id", "system", "external_id", "created_at"))
CONSENT_EVENTS = _Table(ConsentEvent, (
    "customer_id", "channel", "purpose", "is_granted", "occurred_at", "source", "recorded_by_id", "wording_version",
    "created_at",
))
ORDERS = _Table(Order, (
    "id", "source", "external_id", "customer_id", "boutique_id", "advisor_id", "channel", "placed_at", "status",
    "currency", "total", "total_house", "created_at", "updated_at",
))
ORDER_LINES = _Table(OrderLine, (
    "order_id", "line_number", "sku", "product_id", "product_name", "category", "quantity", "unit_price", "is_return",
))
INTERACTIONS = _Table(Interaction, (
    "id", "customer_id", "touchpoint_type_id", "occurred_at", "channel", "boutique_id", "advisor_id", "source",
    "external_id", "amount", "currency", "order_id", "metadata", "created_at",
))
ENROLLMENTS = _Table(Enrollment, (
    "id", "customer_id", "journey_id", "stage_id", "stage_entered_at", "enrolled_at", "created_at", "updated_at",
))
TRANSITIONS = _Table(Transition, (
    "enrollment_id", "from_stage_id", "to_stage_id", "occurred_at", "cause", "interaction_id", "note", "actor_label",
))
# Parents before children, so that the rows are valid even where foreign keys are checked immediately.
TABLES = (CUSTOMERS, IDENTITIES, CONSENT_EVENTS, ORDERS, ORDER_LINES, INTERACTIONS, ENROLLMENTS, TRANSITIONS)


class _Ids:
    """Primary keys taken from a table's own sequence a block at a time, so rows can be numbered in Python.

    Unused keys at the end of the last block are simply skipped, as after a rolled-back insert.
    """

    def __init__(self, model: type[models.Model], block: int) -> None:
        self.table = model._meta.db_table
        self.column = model._meta.pk.column
        self.block = block
        self.next = 1
        self.last = 0

    def take(self) -> int:
        if self.next > self.last:
            with connection.cursor() as cursor:
                # One statement: advance the sequence by a whole block and learn where the block ends.
                cursor.execute(
                    "SELECT setval(s::regclass, nextval(s::regclass) + %s - 1) FROM pg_get_serial_sequence(%s, %s) s",
                    [self.block, self.table, self.column],
                )
                self.last = cursor.fetchone()[0]
            self.next = self.last - self.block + 1
        value = self.next
        self.next += 1
        return value


class _CopyWriter:
    """Writes a chunk's rows with COPY … FROM STDIN through the psycopg 3 connection Django holds.

    The metrics are refreshed once, for every client, after the last chunk: refreshing per chunk
    (`id = ANY(chunk)`) lets PostgreSQL scan the whole orders and clients tables each time, which grows
    quadratically with the size of the run.
    """

    refresh_per_chunk = False

    def write(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        statement = f"COPY {quote(table.db_table)} ({', '.join(map(quote, table.columns))}) FROM STDIN"
        positions = table.json_positions
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if positions:
                    values = list(row)
                    for position in positions:
                        values[position] = json.dumps(values[position])
                    copy.write_row(values)
                else:
                    copy.write_row(row)

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        return transaction.atomic()


class _OrmWriter:
    """The naive way, kept as the benchmark's baseline: one Model.objects.create() per row, in autocommit."""

    refresh_per_chunk = True

    def write(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        manager = table.model._default_manager
        for row in rows:
            manager.create(**dict(zip(table.fields, row, strict=True)))

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()


WRITERS: dict[str, Callable[[], _CopyWriter | _OrmWriter]] = {"copy": _CopyWriter, "orm": _OrmWriter}
