"""The API's bulk endpoints: many interactions or orders at once, a result per item, never one bad item failing the
batch.

Items arrive as decoded JSON objects. Each is read here (types, references, the client it names, found or created
in a savepoint), then the batch goes through touchpoints' batch services, interactions_record_many and
orders_record_many, which hold the rules and write set-based in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime

from core.errors import ApplicationError
from core.parsing import json_holds_nul
from customers.models import Advisor, Boutique, Customer, SourceSystem
from customers.services import customer_upsert
from touchpoints.models import Interaction, Order, TouchpointType
from touchpoints.services.interactions import InteractionItem, Status, interaction_clean, interactions_record_many
from touchpoints.services.orders import (
    MAX_AMOUNT,
    MAX_QUANTITY,
    OrderItem,
    OrderLineData,
    order_clean,
    orders_record_many,
)

logger = logging.getLogger(__name__)

MAX_ITEMS = 1000
EXTERNAL_ID_MAX_LENGTH = Interaction._meta.get_field("external_id").max_length


class ItemStatus:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    CHOICES = (CREATED, UPDATED, UNCHANGED, INVALID)


@dataclass
class ItemResult:
    """What happened to one item of a batch: its position, and the record or the reasons it was refused."""

    index: int
    status: str
    record_id: int | None = None
    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    # The client the item names is unknown or out of the caller's reach (a single write answers 404).
    is_client_unknown: bool = False

    @property
    def is_valid(self) -> bool:
        return self.status != ItemStatus.INVALID

    def as_dict(self) -> dict[str, Any]:
        if self.is_valid:
            return {"index": self.index, "status": self.status, "id": self.record_id}
        return {"index": self.index, "status": self.status, "message": self.message, "errors": self.errors}


class ItemError(Exception):
    """One item's refusal, on a field."""

    def __init__(self, field_name: str, message: str, *, is_client_unknown: bool = False) -> None:
        super().__init__(message)
        self.field_name, self.message, self.is_client_unknown = field_name, message, is_client_unknown


def _invalid(index: int, error: ApplicationError | ItemError) -> ItemResult:
    if isinstance(error, ItemError):
        return ItemResult(index=index, status=ItemStatus.INVALID, message=error.message,
                          errors={error.field_name: [error.message]}, is_client_unknown=error.is_client_unknown)
    return ItemResult(index=index, status=ItemStatus.INVALID, message=error.message,
                      errors=error.fields or {"non_field_errors": [error.message]})


def check_batch_size(items: Sequence[Any]) -> None:
    if not isinstance(items, list | tuple):
        raise ApplicationError.for_field("items", "Send a list of items.")
    if len(items) > MAX_ITEMS:
        raise ApplicationError.for_field("items", f"Send at most {MAX_ITEMS} items a request, not {len(items)}.")


# --- reading an item's values --------------------------------------------------------------------------------------


def _text(item: dict[str, Any], name: str, *, required: bool = False, max_length: int | None = None) -> str:
    value = item.get(name)
    if value is None or value == "":
        if required:
            raise ItemError(name, "This field is required.")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ItemError(name, "Give a text value.")
    text = str(value).strip()
    if "\x00" in text:
        raise ItemError(name, "Text cannot hold the NUL character.")
    if max_length is not None and len(text) > max_length:
        raise ItemError(name, f"Keep it under {max_length + 1} characters.")
    return text


def _moment(item: dict[str, Any], name: str) -> dt.datetime:
    value = item.get(name)
    if not value:
        raise ItemError(name, "This field is required.")
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ItemError(name, f"{value!r} is not an ISO 8601 date and time.")
    if moment.tzinfo is None:
        raise ItemError(name, "Give the time zone (e.g. 2026-03-01T15:00:00+01:00).")
    try:
        # In UTC: the database stores moments between the years 1 and 9999 and refuses offsets past ±15:59,
        # which Python accepts.
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise ItemError(name, f"{value!r} is out of range.") from None


def _amount(item: dict[str, Any], name: str) -> Any:
    value = item.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise ItemError(name, f"{value!r} is not an amount.")
    try:
        too_large = value is not None and abs(Decimal(str(value))) >= MAX_AMOUNT
    except (InvalidOperation, ValueError):
        too_large = False  # not a number: the service's own check says so
    if too_large:
        raise ItemError(name, f"An amount must stay under {MAX_AMOUNT:,}.")
    return value


@dataclass
class ClientLookup:
    """Finds the client each item names, loading the clients named by public id in one query.

    An item names its client by `customer` (the public id) or by `client` ({"system", "external_id", "email"}),
    found or created by customers' customer_upsert, only for a caller that may write clients
    (`may_write_clients`: the customers:write scope). An interaction or an order names its client and never
    changes them: what `client` says differently waits for staff as a contact conflict. `boutique_ids` (None: all)
    is the caller's reach: a client of another boutique is reported as unknown, never revealed.
    """

    boutique_ids: list[int] | None
    may_write_clients: bool = True
    by_public_id: dict[str, Customer] = field(default_factory=dict)

    def load(self, items: Sequence[Any]) -> None:
        public_ids = set()
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("customer"), str):
                try:
                    public_ids.add(str(uuid.UUID(item["customer"])))
                except ValueError:
                    continue
        if public_ids:
            rows = Customer.objects.filter(public_id__in=public_ids).only("pk", "public_id", "home_boutique_id")
            self.by_public_id = {str(customer.public_id): customer for customer in rows}

    def _in_reach(self, customer: Customer) -> bool:
        return self.boutique_ids is None or customer.home_boutique_id in self.boutique_ids

    def references(self, item: dict[str, Any], *, boutiques: dict[str, Boutique],
                   advisors: dict[int, Advisor]) -> tuple[Boutique | None, Advisor | None]:
        """The boutique (by code) and advisor (by id) an item names. Beyond the caller's reach they are unknown,
        answered exactly as codes and ids that do not exist."""
        boutique_code = _text(item, "boutique")
        boutique = boutiques.get(boutique_code) if boutique_code else None
        if boutique is not None and self.boutique_ids is not None and boutique.pk not in self.boutique_ids:
            boutique = None
        if boutique_code and boutique is None:
            raise ItemError("boutique", f"No boutique has the code {boutique_code!r}.")
        advisor_id = item.get("advisor")
        advisor = (advisors.get(advisor_id) if isinstance(advisor_id, int) and not isinstance(advisor_id, bool)
                   else None)
        if advisor is not None and self.boutique_ids is not None and advisor.boutique_id not in self.boutique_ids:
            advisor = None
        if advisor_id is not None and advisor is None:
            raise ItemError("advisor", f"No advisor has the id {advisor_id!r}.")
        return boutique, advisor

    def resolve(self, item: dict[str, Any]) -> Customer:
        """The item's client; may create one (call inside the item's savepoint). Raises ItemError."""
        reference, identity = item.get("customer"), item.get("client")
        if reference:
            try:
                customer = self.by_public_id.get(str(uuid.UUID(str(reference))))
            except ValueError:
                customer = None
            if customer is None or not self._in_reach(customer):
                raise ItemError("customer", f"No client has the id {reference!r}.", is_client_unknown=True)
            return customer
        if not isinstance(identity, dict) or not identity:
            raise ItemError("customer", "Name the client: their id (customer) or their identity (client).")
        if not self.may_write_clients:
            raise ItemError("client", "Finding or creating a client by their identity needs the customers:write "
                                      "scope; name the client by their id (customer).")
        try:
            system = _text(identity, "system")
            external_id = _text(identity, "external_id", max_length=128)
            email = _text(identity, "email", max_length=254)
        except ItemError as error:
            raise ItemError(f"client.{error.field_name}", error.message) from None
        if system and system not in SourceSystem.values:
            raise ItemError("client.system", f"Unknown system {system!r}.")
        if external_id and not system:
            raise ItemError("client.system", "Say which system the client's id comes from.")
        try:
            customer = customer_upsert(source=system or SourceSystem.ATELIER, external_id=external_id or None,
                                       email=email or None, is_verified=False, may_update=False).customer
        except ApplicationError as error:
            raise ItemError("client", error.message) from None
        if not self._in_reach(customer):
            raise ItemError("client", "No client matches this identity.", is_client_unknown=True)
        return customer


# --- interactions --------------------------------------------------------------------------------------------------


def _clean_interaction(
    item: Any, *, types: dict[str, TouchpointType], boutiques: dict[str, Boutique], advisors: dict[int, Advisor],
    clients: ClientLookup,
) -> InteractionItem:
    """One decoded item as interactions_record_many takes it. Raises ItemError or ApplicationError; call inside a
    savepoint when the item may create its client."""
    if not isinstance(item, dict):
        raise ItemError("non_field_errors", "Each item must be an object.")
    code = _text(item, "touchpoint_type", required=True)
    touchpoint_type = types.get(code)
    if touchpoint_type is None:
        raise ItemError("touchpoint_type", f"Unknown touchpoint type {code!r}.")
    if touchpoint_type.kind == TouchpointType.Kind.TRANSACTIONAL:
        # As in the interaction import: a purchase or a return on the timeline is its order's.
        raise ItemError("touchpoint_type", f"{touchpoint_type.name} comes with its order: record the order instead.")
    occurred_at = _moment(item, "occurred_at")
    source = _text(item, "source", required=True)
    external_id = _text(item, "external_id", max_length=EXTERNAL_ID_MAX_LENGTH)
    metadata = item.get("metadata")
    if isinstance(metadata, dict) and json_holds_nul(metadata):
        raise ItemError("metadata", "Metadata cannot hold the NUL character.")
    # Checked here, before the references and the client, so that an item hears of its own values first.
    clean = interaction_clean(
        touchpoint_type=touchpoint_type, occurred_at=occurred_at, source=source,
        channel=_text(item, "channel") or None, amount=_amount(item, "amount"),
        currency=_text(item, "currency"), metadata=metadata, external_id=external_id,
    )
    boutique, advisor = clients.references(item, boutiques=boutiques, advisors=advisors)
    customer = clients.resolve(item)
    return InteractionItem(
        customer_id=customer.pk, touchpoint_type=touchpoint_type, occurred_at=occurred_at, source=source,
        external_id=external_id, channel=clean.channel, boutique_id=boutique.pk if boutique else None,
        advisor_id=advisor.pk if advisor else None, amount=clean.amount, currency=clean.currency,
        metadata=clean.metadata,
    )


def _reference_data(items: Sequence[Any]) -> tuple[dict[str, TouchpointType], dict[str, Boutique],
                                                   dict[int, Advisor]]:
    """The touchpoint types, boutiques and advisors the items name, one query each."""
    dicts = [item for item in items if isinstance(item, dict)]
    # As _text reads them; a code holding NUL is refused by _text, and PostgreSQL would refuse the whole query.
    boutique_codes = {str(item["boutique"]).strip() for item in dicts
                      if isinstance(item.get("boutique"), str | int) and "\x00" not in str(item["boutique"])}
    advisor_ids = {item["advisor"] for item in dicts
                   if isinstance(item.get("advisor"), int) and not isinstance(item.get("advisor"), bool)}
    types = {touchpoint_type.code: touchpoint_type for touchpoint_type in TouchpointType.objects.all()}
    boutiques = {b.code: b for b in Boutique.objects.filter(code__in=boutique_codes)} if boutique_codes else {}
    advisors = {a.pk: a for a in Advisor.objects.filter(pk__in=advisor_ids)} if advisor_ids else {}
    return types, boutiques, advisors


_STATUS = {Status.CREATED: ItemStatus.CREATED, Status.UPDATED: ItemStatus.UPDATED,
           Status.UNCHANGED: ItemStatus.UNCHANGED}


def _answered(results: dict[int, ItemResult], accepted: list[tuple[int, Any]], recorded: Sequence[Any], *,
              event: str) -> list[ItemResult]:
    """The batch service's result for each accepted item beside the refusals already known, in the items' order."""
    for (index, _item), result in zip(accepted, recorded, strict=True):
        if result.error is not None:
            results[index] = _invalid(index, result.error)
        else:
            results[index] = ItemResult(index=index, status=_STATUS[result.status], record_id=result.record_id)
    logger.info("%s items=%s invalid=%s", event, len(results), sum(not result.is_valid for result in results.values()))
    return [results[index] for index in range(len(results))]


@transaction.atomic
def interactions_record_bulk(
    *, items: Sequence[Any], boutique_ids: list[int] | None = None, may_write_clients: bool = True,
) -> list[ItemResult]:
    """The bulk API's interactions: each decoded item read, its references and client found, then all of them
    through interactions_record_many in one transaction.

    Returns one result per item, in order: created, unchanged (its (source, external id) is already recorded, or
    came earlier in the same batch) or invalid with the item's errors; the valid items are written whatever the
    others. `boutique_ids` limits the clients, boutiques and advisors the caller may write for (None: all);
    `may_write_clients` lets items find or create their client by identity (ClientLookup).
    """
    check_batch_size(items)
    types, boutiques, advisors = _reference_data(items)
    clients = ClientLookup(boutique_ids=boutique_ids, may_write_clients=may_write_clients)
    clients.load(items)

    results: dict[int, ItemResult] = {}
    accepted: list[tuple[int, InteractionItem]] = []
    for index, item in enumerate(items):
        try:
            # A savepoint only when the item may create its client: the other lookups write nothing.
            if isinstance(item, dict) and not item.get("customer") and item.get("client"):
                with transaction.atomic():
                    accepted.append((index, _clean_interaction(item, types=types, boutiques=boutiques,
                                                               advisors=advisors, clients=clients)))
            else:
                accepted.append((index, _clean_interaction(item, types=types, boutiques=boutiques,
                                                           advisors=advisors, clients=clients)))
        except (ItemError, ApplicationError) as error:
            results[index] = _invalid(index, error)

    recorded = interactions_record_many(items=[interaction for _index, interaction in accepted])
    return _answered(results, accepted, recorded, event="touchpoints.interactions_recorded_in_bulk")


# --- orders --------------------------------------------------------------------------------------------------------


def _order_lines(item: dict[str, Any]) -> list[OrderLineData]:
    lines = item.get("lines")
    if not isinstance(lines, list):
        raise ItemError("lines", "Give the order's lines as a list.")
    parsed = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            raise ItemError(f"lines[{number}]", "Each line must be an object.")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | str):
            raise ItemError(f"lines[{number}].quantity", f"{quantity!r} is not a whole quantity.")
        try:
            too_large = abs(int(quantity)) > MAX_QUANTITY
        except ValueError:
            too_large = False  # not a whole number: order_clean says so
        if too_large:
            raise ItemError(f"lines[{number}].quantity", f"A quantity must stay under {MAX_QUANTITY:,}.")
        is_return = line.get("is_return", False)
        if not isinstance(is_return, bool):
            raise ItemError(f"lines[{number}].is_return", "Give true or false.")
        try:
            parsed.append(OrderLineData(
                sku=_text(line, "sku", max_length=40), quantity=quantity, unit_price=_amount(line, "unit_price"),
                product_name=_text(line, "product_name", max_length=160),
                category=_text(line, "category", max_length=60), is_return=is_return,
            ))
        except ItemError as error:
            # Named like order_clean's line errors: lines[1].sku.
            raise ItemError(f"lines[{number}].{error.field_name}", error.message) from None
    return parsed


def order_item(
    item: Any, *, clients: ClientLookup, boutiques: dict[str, Boutique], advisors: dict[int, Advisor],
) -> OrderItem:
    """One decoded order item as orders_record_many takes it, checked with order_clean. Raises ItemError or
    ApplicationError; call inside a savepoint (it may create the client, which an invalid order takes back)."""
    if not isinstance(item, dict):
        raise ItemError("non_field_errors", "Each item must be an object.")
    boutique, advisor = clients.references(item, boutiques=boutiques, advisors=advisors)
    optional = {name: _text(item, name) for name in ("status", "channel") if item.get(name)}
    values = {
        "source": _text(item, "source", required=True),
        "external_id": _text(item, "external_id", required=True, max_length=128),
        "placed_at": _moment(item, "placed_at"),
        "currency": _text(item, "currency", required=True),
        "total": _amount(item, "total"),
        "lines": _order_lines(item),
    }
    if values["total"] is None:
        raise ItemError("total", "This field is required.")
    customer = clients.resolve(item)
    if clients.boutique_ids is not None:
        # Sent again for another client, the order would move: not an order out of the caller's reach.
        owner = Order.objects.filter(source=values["source"], external_id=values["external_id"]).values_list(
            "customer__home_boutique_id").first()
        if owner is not None and owner[0] not in clients.boutique_ids:
            # Said as neutrally as a unique order id allows: nothing about whose order it is, or where.
            raise ItemError("external_id", "This order cannot be recorded with this key.", is_client_unknown=True)
    order_clean(**values, **optional)
    return OrderItem(customer_id=customer.pk, boutique_id=boutique.pk if boutique else None,
                     advisor_id=advisor.pk if advisor else None, **values, **optional)


def orders_reference_data(items: Sequence[Any]) -> tuple[dict[str, Boutique], dict[int, Advisor]]:
    _, boutiques, advisors = _reference_data(items)
    return boutiques, advisors


@transaction.atomic
def orders_record_bulk(*, items: Sequence[Any], boutique_ids: list[int] | None = None,
                       may_write_clients: bool = True) -> list[ItemResult]:
    """The bulk API's orders: each decoded item read and its client found in its own savepoint, then all of them
    through orders_record_many: one result per item, in order (created, updated, unchanged or invalid with its
    errors). `boutique_ids` and `may_write_clients` as for interactions_record_bulk."""
    check_batch_size(items)
    boutiques, advisors = orders_reference_data(items)
    clients = ClientLookup(boutique_ids=boutique_ids, may_write_clients=may_write_clients)
    clients.load(items)
    results: dict[int, ItemResult] = {}
    accepted: list[tuple[int, OrderItem]] = []
    for index, item in enumerate(items):
        try:
            with transaction.atomic():
                accepted.append((index, order_item(item, clients=clients, boutiques=boutiques, advisors=advisors)))
        except (ItemError, ApplicationError) as error:
            results[index] = _invalid(index, error)
    recorded = orders_record_many(items=[order for _index, order in accepted])
    return _answered(results, accepted, recorded, event="touchpoints.orders_recorded_in_bulk")

