"""Importing interactions (visits, appointments, calls, events …): a row is cleaned here with interaction_record's
own rules (touchpoints.services.interaction_clean) and written set-based by imports.pipeline.records.

A row is found again by (source, external_id), the model's unique key; a row without an external id (logged by
staff) by (client, touchpoint type, occurred_at). Purchases and returns are refused: their orders bring them.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from core.errors import ApplicationError
from customers.services.activity import customers_last_interaction_record_many
from imports.kinds.common import advisor_of, boutique_of, client_key, json_object, parsed, text_value
from imports.kinds.customers import DEFAULT_SOURCE, CustomerImportContext, RowError, row_cells
from imports.models import ImportBatch
from imports.parsing import parse_currency_code, parse_datetime, parse_decimal
from imports.pipeline.batches import run_batch
from imports.pipeline.constants import Progress
from imports.pipeline.records import CleanRecord, RecordKind, RecordRun, rollback_records
from imports.reader import SourceTable
from touchpoints.events import listeners_paused
from touchpoints.models import Interaction, TouchpointType
from touchpoints.resources import NOTE_KEY
from touchpoints.services.interactions import (
    InteractionItem,
    Status,
    customers_last_interaction_recompute,
    interaction_clean,
    interactions_record_many,
)

# What is left of an amount once its number is taken out: a currency code or symbol, if any.
_NOT_CURRENCY = re.compile(r"[\d\s.,'’()+\-\u2212]")


@dataclass
class InteractionImportContext:
    """What cleaning needs besides the row, loaded once per import."""

    house: CustomerImportContext
    types: dict[str, TouchpointType]
    time_zones: dict[str, zoneinfo.ZoneInfo]

    @classmethod
    def load(cls, *, table: SourceTable) -> InteractionImportContext:
        house = CustomerImportContext.load(mapping=table.mapping, started_at=timezone.now())
        return cls(
            house=house,
            types={touchpoint.code.lower(): touchpoint for touchpoint in TouchpointType.objects.all()},
            time_zones={},
        )

    def time_zone(self, name: str | None) -> zoneinfo.ZoneInfo:
        if not name:
            return self.house.time_zone
        if name not in self.time_zones:
            self.time_zones[name] = zoneinfo.ZoneInfo(name)
        return self.time_zones[name]


def _amount(cells: dict[str, str], context: InteractionImportContext) -> tuple[Any, str]:
    """The amount and its currency: the currency column, or the symbol or code written with the amount."""
    text = cells.get("amount", "")
    amount = parsed("amount", lambda value: parse_decimal(value, decimal_comma=context.house.mapping.decimal_comma),
                    text)
    currency = parsed("currency", parse_currency_code, cells.get("currency")) or ""
    written = _NOT_CURRENCY.sub("", text)
    if written:
        from_amount = parsed("amount", parse_currency_code, written)
        if currency and from_amount != currency:
            raise RowError("amount", f"{text} is in {from_amount}, but the currency column says {currency}.")
        currency = from_amount or ""
    return amount, currency


def clean_interaction_row(row: Any, context: InteractionImportContext) -> CleanRecord:
    """Read one interaction row, or raise RowError naming the field at fault."""
    cells = row_cells(row)
    source = cells.get("source", "").lower() or DEFAULT_SOURCE
    external_id = text_value(cells, "external_id", Interaction)
    code = cells.get("touchpoint_type", "")
    if not code:
        raise RowError("touchpoint_type", "Give the touchpoint type's code (e.g. store_visit, appointment).")
    touchpoint_type = context.types.get(code.lower())
    if touchpoint_type is None:
        codes = ", ".join(sorted(context.types))
        raise RowError("touchpoint_type", f"No touchpoint type has the code {code}; the codes are {codes}.")
    if touchpoint_type.kind == TouchpointType.Kind.TRANSACTIONAL:
        raise RowError(
            "touchpoint_type",
            f"{touchpoint_type.name} is not imported as an interaction: purchases and returns come with their "
            "orders, so import them with the order file.",
        )
    boutique = boutique_of(cells, context.house)
    advisor = advisor_of(cells, context.house)
    region = (boutique.country if boutique else None) or context.house.mapping.default_region
    client = client_key(cells, region=region)
    time_zone = context.time_zone(boutique.timezone if boutique else None)
    occurred_at = parsed(
        "occurred_at",
        lambda text: parse_datetime(text, order=context.house.mapping.date_order, tz=time_zone),
        cells.get("occurred_at"),
    )
    if occurred_at is None:
        raise RowError("occurred_at", "Give the date and time of the interaction.")
    amount, currency = _amount(cells, context)
    metadata = json_object(cells, "metadata")
    note = cells.get("note", "")
    try:
        values = interaction_clean(
            touchpoint_type=touchpoint_type, occurred_at=occurred_at, source=source,
            channel=cells.get("channel", "").lower() or None, amount=amount, currency=currency, metadata=metadata,
            external_id=external_id,
        )
    except ApplicationError as error:
        raise RowError(next(iter(error.fields), None), error.message) from None
    given: dict[str, Any] = {
        "source": source, "external_id": external_id, "touchpoint_type_id": touchpoint_type.pk,
        "occurred_at": occurred_at,
    }
    if cells.get("channel"):
        given["channel"] = values.channel
    if boutique is not None:
        given["boutique_id"] = boutique.pk
    if advisor is not None:
        given["advisor_id"] = advisor.pk
    if amount is not None:
        given["amount"], given["currency"] = values.amount, values.currency
    if metadata is not None:
        given["metadata"] = values.metadata
    return CleanRecord(
        given=given,
        defaults={"channel": values.channel, "boutique_id": None, "advisor_id": None, "amount": None, "currency": "",
                  "metadata": {}},
        client=client,
        extra={"note": note},
    )


def _merge(current: dict[str, Any], record: CleanRecord) -> dict[str, Any]:
    # The note has a column of its own in Atelier's files and sits in the metadata: it joins what is there.
    merged = {**current, **record.given}
    if record.extra["note"]:
        merged["metadata"] = {**(merged.get("metadata") or {}), NOTE_KEY: record.extra["note"]}
    return merged


def _key(values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    if values["external_id"]:
        return "external", (values["source"], values["external_id"])
    return "moment", (values["customer_id"], values["touchpoint_type_id"], values["occurred_at"], "")


def _check(values: dict[str, Any], original: dict[str, Any] | None) -> None:
    if original is not None and original["order_id"] is not None:
        raise RowError("external_id", "This id is an order's place on the timeline; orders come with the order file.")


def _last_interaction_moved_on(written: list[dict[str, Any]]) -> None:
    """Records the import changed: their clients' last interaction moves on (never back), by customers' service."""
    latest: dict[int, Any] = {}
    for values in written:
        customer_pk = values["customer_id"]
        if customer_pk not in latest or values["occurred_at"] > latest[customer_pk]:
            latest[customer_pk] = values["occurred_at"]
    customers_last_interaction_record_many(moments=latest)


def _create(rows: list[dict[str, Any]], notifies: bool) -> list[int]:
    """The chunk's new interactions through touchpoints' interactions_record_many (its rules, the clients' last
    interaction, the journey listeners when the batch opted in)."""
    types = TouchpointType.objects.in_bulk({values["touchpoint_type_id"] for values in rows})
    items = [
        InteractionItem(
            customer_id=values["customer_id"], touchpoint_type=types[values["touchpoint_type_id"]],
            occurred_at=values["occurred_at"], source=values["source"], external_id=values["external_id"],
            channel=values["channel"], boutique_id=values["boutique_id"], advisor_id=values["advisor_id"],
            amount=values["amount"], currency=values["currency"], metadata=values["metadata"],
        )
        for values in rows
    ]
    if notifies:
        results = interactions_record_many(items=items)
    else:
        with listeners_paused():
            results = interactions_record_many(items=items)
    for values, result in zip(rows, results, strict=True):
        if result.error is not None:
            raise result.error
        if result.status != Status.CREATED:
            # Recorded by someone else since the chunk looked: not this import's to take back on a rollback.
            raise ApplicationError(
                f"The interaction {values['source']} {values['external_id']} was recorded by someone else while this "
                "file was imported; import the file again.",
                extra={"external_id": values["external_id"]},
            )
    return [result.record_id for result in results]  # type: ignore[misc]


def _last_interaction_recomputed(customer_ids: set[int]) -> None:
    customers_last_interaction_recompute(customer_ids=customer_ids)


INTERACTIONS = RecordKind(
    model=Interaction,
    noun="interaction",
    columns={
        "customer_id": "bigint", "touchpoint_type_id": "bigint", "occurred_at": "timestamptz", "channel": "text",
        "boutique_id": "bigint", "advisor_id": "bigint", "source": "text", "external_id": "text",
        "amount": "numeric", "currency": "text", "metadata": "jsonb",
    },
    keys={"external": ("source", "external_id"),
          "moment": ("customer_id", "touchpoint_type_id", "occurred_at", "external_id")},
    key=_key,
    has_updated_at=False,
    loaded=("order_id",),
    merge=_merge,
    check=_check,
    after_write=_last_interaction_moved_on,
    create=_create,
)


def run_interaction_import(
    *, batch: ImportBatch, table: SourceTable, dry_run: bool, valid_only: bool, progress: Progress | None = None
) -> None:
    """Import an interaction file as one batch: all or nothing (unless `valid_only`), or a dry run."""
    context = InteractionImportContext.load(table=table)
    run = RecordRun(batch=batch, table=table, kind=INTERACTIONS, clean=lambda row: clean_interaction_row(row, context))
    run_batch(batch=batch, table=table, run=run, dry_run=dry_run, valid_only=valid_only, progress=progress)


def rollback_interaction_import(batch: ImportBatch) -> None:
    """Remove the interactions the batch created, restore those it changed, and put back their clients' last
    interaction. Refused when something recorded since points at an interaction it created."""
    rollback_records(batch, INTERACTIONS, owner="customer_id", after=_last_interaction_recomputed)
