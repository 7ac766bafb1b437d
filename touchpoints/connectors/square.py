"""A boutique's Square POS: orders (with lines, returns, refunds, cancellations) and store visits since a cursor,
page by page, for the boutique's location. The JSON is Square's (docs/connectors.md; samples in
../shared/samples/square): money in integer minor units with its currency, quantities as decimal strings.

- `POST /v2/orders/search` (location_ids, cursor, limit, query: updated_at since the cursor, sorted by updated_at)
  → `{"orders": [...], "cursor": "…"}`. An entry that carries only an id (an `order.created` event, an
  `order_entries` item) is fetched with `POST /v2/orders/batch-retrieve`.
- The clients the orders name that Atelier does not know yet: `POST /v2/customers/bulk-retrieve`.
- `GET /v2/visits?location_id&begin_time&cursor&limit` → `{"visits": [...], "cursor": "…"}` (the house's extension:
  Square has no visit API; shaped like its list endpoints).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from core.connectors import (
    RECORD_ERRORS,
    Connector,
    MalformedPage,
    Outcome,
    Page,
    RecordRejected,
    fetch_isolating_refusals,
)
from core.connectors.values import iso, items, moment, obj, reject, text
from core.errors import ApplicationError
from customers.models import Channel, CustomerIdentity, SourceSystem
from customers.services import ClientItem, customer_clean, customers_upsert_many
from touchpoints.models import Order
from touchpoints.services.interactions import InteractionItem, interactions_record_many, resolve_touchpoint_type
from touchpoints.services.orders import OrderItem, OrderLineData, order_clean, orders_record_many

# Digits after the decimal point of each currency's minor unit (ISO 4217); two unless named.
MINOR_UNIT_DIGITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}
STATES = {"OPEN": Order.Status.PLACED, "COMPLETED": Order.Status.FULFILLED, "CANCELED": Order.Status.CANCELLED}
# A refund counts once Square has it or is about to pay it.
COUNTED_REFUNDS = {"COMPLETED", "APPROVED", "PENDING"}


class SquarePosConnector(Connector):
    """Square's Orders, Customers (and the house's visits extension) for one boutique's location."""

    key = "square_pos"
    label = "Square POS"
    system = SourceSystem.POS
    streams = ("orders", "visits")
    is_per_boutique = True
    # location_id: the boutique's Square location (default: the boutique's code).
    default_options = {"page_size": 100, "location_id": ""}

    @property
    def location_id(self) -> str:
        return self.options.get("location_id") or self.boutique.code

    @classmethod
    def auth_headers(cls, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}", "Square-Version": "2025-01-23"} if secret else {}

    # --- fetching ----------------------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: dict[str, Any]) -> Page:
        if stream == "orders":
            return self._fetch_orders(cursor)
        return self._fetch_visits(cursor)

    def _fetch_orders(self, cursor: dict[str, Any]) -> Page:
        query: dict[str, Any] = {"sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
        if cursor.get("since"):
            query["filter"] = {"date_time_filter": {"updated_at": {"start_at": cursor["since"]}}}
        body: dict[str, Any] = {"location_ids": [self.location_id], "limit": int(self.options["page_size"]),
                                "query": query}
        if cursor.get("page"):
            body["cursor"] = cursor["page"]
        data = self.http.request_json("POST", "/v2/orders/search", body=body)
        orders, next_page = _envelope(data, "orders", "POST /v2/orders/search", also="order_entries")
        stubs = [order["id"] for order in orders if _is_stub(order)]
        refused_orders: dict[str, str] = {}
        if stubs:
            by_id, refused_orders = fetch_isolating_refusals(self._orders_by_id, stubs)
            # A stub the POS could not return stays a stub: rejected as such, with its id, when recorded.
            orders = [by_id.get(order["id"], order) if _is_stub(order) else order for order in orders]
        customers, refused_customers = self._unknown_customers(orders)
        context = {"customers": customers, "refused_customers": refused_customers, "refused_orders": refused_orders}
        return _paged(orders, cursor, next_page, "updated_at", context)

    def _orders_by_id(self, order_ids: list[str]) -> dict[str, Any]:
        full = self.http.request_json("POST", "/v2/orders/batch-retrieve",
                                      body={"location_id": self.location_id, "order_ids": order_ids})
        fetched, _ = _envelope(full, "orders", "POST /v2/orders/batch-retrieve")
        return {order.get("id"): order for order in fetched if isinstance(order, dict)}

    def _fetch_visits(self, cursor: dict[str, Any]) -> Page:
        params: dict[str, Any] = {"location_id": self.location_id, "limit": int(self.options["page_size"])}
        if cursor.get("since"):
            params["begin_time"] = cursor["since"]
        if cursor.get("page"):
            params["cursor"] = cursor["page"]
        data = self.http.request_json("GET", "/v2/visits", params=params)
        visits, next_page = _envelope(data, "visits", "GET /v2/visits")
        customers, refused = self._unknown_customers(visits)
        return _paged(visits, cursor, next_page, "visited_at", {"customers": customers, "refused_customers": refused})

    def _unknown_customers(self, records: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """The Square customers the records name that have no POS identity in Atelier yet, fetched in one call
        (split when the POS refuses it: fetch_isolating_refusals), and those the POS refused, with its answer."""
        wanted = {str(record["customer_id"]) for record in records
                  if isinstance(record, dict) and isinstance(record.get("customer_id"), str) and record["customer_id"]}
        if not wanted:
            return {}, {}
        known = set(CustomerIdentity.objects.filter(system=self.system, external_id__in=wanted)
                    .values_list("external_id", flat=True))
        missing = sorted(wanted - known)
        if not missing:
            return {}, {}
        return fetch_isolating_refusals(self._customers_by_id, missing)

    def _customers_by_id(self, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
        data = self.http.request_json("POST", "/v2/customers/bulk-retrieve", body={"customer_ids": customer_ids})
        responses = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(responses, dict):
            raise MalformedPage("POST /v2/customers/bulk-retrieve: the answer has no responses.",
                                body=json.dumps(data)[:2000])
        return {key: value["customer"] for key, value in responses.items()
                if isinstance(value, dict) and isinstance(value.get("customer"), dict)}

    # --- recording ---------------------------------------------------------------------------------------------

    def record(self, stream: str, record: Any, page: Page) -> Outcome:
        [outcome] = self._record_many(stream, [record], page)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def record_page(self, stream: str, page: Page) -> list[Outcome | Exception]:
        return self._record_many(stream, page.records, page)

    def _record_many(self, stream: str, records: list[Any], page: Page) -> list[Outcome | Exception]:
        """Each record read, then the clients the page's readable records name found or created with one
        customers_upsert_many, then the page's orders through orders_record_many, or its visits through
        interactions_record_many, in one go. A record refused, or whose client is refused, costs only itself."""
        self._identities(records, page)
        outcomes: list[Outcome | Exception | None] = [None] * len(records)
        # Read first, writing nothing: a record refused here never creates its client (no savepoint to take back).
        read: list[tuple[int, str, dict[str, Any]]] = []
        for index, record in enumerate(records):
            try:
                if not isinstance(record, dict):
                    raise RecordRejected("The record is not an object.")
                read.append((index, *(self._order_values(record, page) if stream == "orders"
                                      else self._visit_values(record, page))))
            except RECORD_ERRORS as error:
                outcomes[index] = error
        refused_clients = self._clients(page, [client for _index, client, _values in read])
        known = page.context["clients"]
        make = OrderItem if stream == "orders" else InteractionItem
        accepted: list[tuple[int, Any]] = []
        for index, client, values in read:
            if client in refused_clients:
                outcomes[index] = refused_clients[client]
            else:
                accepted.append((index, make(customer_id=known[client], **values)))
        record_many = orders_record_many if stream == "orders" else interactions_record_many
        try:
            with transaction.atomic():
                results = record_many(items=[item for _index, item in accepted])
        except RECORD_ERRORS:
            # A value the checks let through but the database refused: each record alone, so it costs only itself.
            results = []
            for _index, item in accepted:
                try:
                    with transaction.atomic():
                        results += record_many(items=[item])
                except RECORD_ERRORS as error:
                    results.append(_Refused(error))
        for (index, _item), result in zip(accepted, results, strict=True):
            if isinstance(result, _Refused):
                outcomes[index] = result.error
            elif result.error is not None:
                outcomes[index] = RecordRejected(result.error.message, field_errors=result.error.fields)
            else:
                outcomes[index] = Outcome(result.status)
        return outcomes  # type: ignore[return-value]

    def _identities(self, records: list[Any], page: Page) -> None:
        """The clients the records name by their POS id, found in one query and kept with the page."""
        known = page.context.setdefault("clients", {})
        wanted = {record["customer_id"] for record in records if isinstance(record, dict)
                  and isinstance(record.get("customer_id"), str) and record["customer_id"] not in known}
        if wanted:
            known.update(CustomerIdentity.objects.filter(system=self.system, external_id__in=wanted)
                         .values_list("external_id", "customer_id"))

    def _client_id(self, record: dict[str, Any], page: Page, what: str) -> str:
        """The record's client by their POS id, refused here when the record names none or the POS refused the
        client's profile; found or created with the page's other new clients by _clients."""
        customer_id = text(record, "customer_id", max_length=128)
        if not customer_id:
            raise reject("customer_id", f"An anonymous {what} (no customer_id) belongs to no client.")
        if customer_id not in page.context.setdefault("clients", {}):
            refusal = page.context.get("refused_customers", {}).get(customer_id)
            if refusal is not None:
                raise reject("customer_id", f"The POS refused the client's profile: {refusal}")
        return customer_id

    def _clients(self, page: Page, wanted: list[str]) -> dict[str, Exception]:
        """Find or create the clients (by POS id) the page names that have no POS identity yet, from the profiles
        fetched with the page, in one customers_upsert_many: kept with the page (context["clients"]); returns the
        refusals by POS id, each in the words the record is refused with."""
        known = page.context.setdefault("clients", {})
        profiles = page.context.get("customers", {})
        refused: dict[str, Exception] = {}
        items: dict[str, ClientItem] = {}
        for customer_id in dict.fromkeys(wanted):
            if customer_id in known:
                continue
            profile = profiles.get(customer_id, {})
            try:
                items[customer_id] = customer_clean(
                    source=self.system, external_id=customer_id,
                    email=_profile_text(profile, "email_address"), phone=_profile_text(profile, "phone_number"),
                    first_name=_profile_text(profile, "given_name"), last_name=_profile_text(profile, "family_name"),
                    home_boutique=self.boutique,
                )
            except RECORD_ERRORS as error:
                refused[customer_id] = _client_refused(customer_id, error)
        if not items:
            return refused
        try:
            outcomes = dict(zip(items, customers_upsert_many(list(items.values())).results, strict=True))
        except RECORD_ERRORS:
            # A value the cleaning let through but the database refused (its savepoint rolled back): each client
            # alone, so that it costs only its own records.
            outcomes = {}
            for customer_id, item in items.items():
                try:
                    [outcomes[customer_id]] = customers_upsert_many([item]).results
                except RECORD_ERRORS as error:
                    refused[customer_id] = _client_refused(customer_id, error)
        for customer_id, outcome in outcomes.items():
            if outcome.status == "refused":
                refused[customer_id] = _client_refused(
                    customer_id, ApplicationError(outcome.reason, extra=outcome.extra))
            else:
                known[customer_id] = outcome.customer_id
        return refused

    def _order_values(self, order: dict[str, Any], page: Page) -> tuple[str, dict[str, Any]]:
        """The order's client by POS id and its OrderItem's other values, checked: RecordRejected otherwise."""
        external_id = text(order, "id", required=True, max_length=128)
        if _is_stub(order):
            refusal = page.context.get("refused_orders", {}).get(external_id)
            raise reject("line_items", f"The POS refused to return the order: {refusal}" if refusal else
                         "The POS returned the order's id only, even when asked for the order.")
        location = text(order, "location_id", required=True)
        if location != self.location_id:
            raise reject("location_id", f"The order is from location {location!r}, not {self.location_id!r}.")
        state = text(order, "state", required=True)
        if state not in STATES:
            raise reject("state", f"Unknown or unrecorded order state {state!r}.")
        placed_at = moment(order, "created_at")
        lines: list[OrderLineData] = []
        currencies: set[str] = set()
        for number, item in enumerate(items(order, "line_items"), start=1):
            lines.append(_line(item, f"line_items[{number}].", currencies, is_return=False))
        for number, returned in enumerate(items(order, "returns"), start=1):
            if not isinstance(returned, dict):
                raise reject(f"returns[{number}]", "Expected an object.")
            for line_number, item in enumerate(items(returned, "return_line_items"), start=1):
                lines.append(_line(item, f"returns[{number}].return_line_items[{line_number}].", currencies,
                                   is_return=True))
        if not lines:
            raise reject("line_items", "An order needs at least one line.")
        if len(currencies) != 1:
            raise reject("line_items", f"The lines mix currencies: {', '.join(sorted(currencies))}.")
        currency = currencies.pop()
        # The lines at the price paid; their sum is the total (tax, tips and service charges are not client value).
        total = sum((Decimal(line.quantity) * Decimal(line.unit_price) for line in lines), Decimal("0.00"))
        status = STATES[state]
        refunded = Decimal(0)
        for number, refund in enumerate(items(order, "refunds"), start=1):
            if not isinstance(refund, dict):
                raise reject(f"refunds[{number}]", "Expected an object.")
            if refund.get("status") in COUNTED_REFUNDS:
                amount, refund_currency = _money(obj(refund, "amount_money", where=f"refunds[{number}]."),
                                                 f"refunds[{number}].amount_money.")
                if refund_currency == currency:
                    refunded += amount
        if status != Order.Status.CANCELLED and total > 0 and refunded >= total:
            status = Order.Status.RETURNED
        client = self._client_id(order, page, "sale")
        values = {"source": self.system, "external_id": external_id, "placed_at": placed_at, "currency": currency,
                  "total": total, "lines": lines, "status": status, "channel": Channel.BOUTIQUE}
        try:
            # Checked before its client is found or created: a refused order creates no client.
            order_clean(**values)
        except ApplicationError as error:
            raise RecordRejected(error.message, field_errors=error.fields) from None
        return client, {"boutique_id": self.boutique.pk if self.boutique else None, **values}

    def _visit_values(self, visit: dict[str, Any], page: Page) -> tuple[str, dict[str, Any]]:
        """The visit's client by POS id and its InteractionItem's other values, checked."""
        external_id = text(visit, "id", required=True, max_length=150)
        location = text(visit, "location_id", required=True)
        if location != self.location_id:
            raise reject("location_id", f"The visit is at location {location!r}, not {self.location_id!r}.")
        visited_at = moment(visit, "visited_at")
        client = self._client_id(visit, page, "visit")
        store_visit = page.context.get("store_visit") or page.context.setdefault(
            "store_visit", resolve_touchpoint_type("store_visit"))
        return client, {"touchpoint_type": store_visit, "occurred_at": visited_at, "source": self.system,
                        "external_id": f"visit:{external_id}", "channel": Channel.BOUTIQUE,
                        "boutique_id": self.boutique.pk if self.boutique else None}


@dataclass
class _Refused:
    """A record the database refused when written alone."""

    error: Exception


def _client_refused(customer_id: str, error: Exception) -> Exception:
    """A client customers refused, as the refusal of each record naming them: a rule's refusal in its words, any
    other error (a value the database refused) as it is, for the run log to say so without the value."""
    if isinstance(error, ApplicationError):
        return RecordRejected(f"customer {customer_id}: {error.message}", field_errors=error.fields)
    return error


def _is_stub(order: Any) -> bool:
    return isinstance(order, dict) and isinstance(order.get("id"), str) and "line_items" not in order \
        and "returns" not in order


def _envelope(data: Any, name: str, where: str, *, also: str = "") -> tuple[list[Any], str | None]:
    """The records and the next page's cursor of a Square list answer (which leaves empty lists out)."""
    if not isinstance(data, dict):
        raise MalformedPage(f"{where}: the answer is not an object.", body=json.dumps(data)[:2000])
    if data.get("errors"):
        raise MalformedPage(f"{where}: the answer holds errors: {json.dumps(data['errors'])[:300]}",
                            body=json.dumps(data)[:2000])
    records = data.get(name, [])
    if also and also in data:
        records = [*records, *[{"id": entry.get("order_id")} for entry in data[also] if isinstance(entry, dict)]] \
            if isinstance(data[also], list) and isinstance(records, list) else None
    if not isinstance(records, list):
        raise MalformedPage(f"{where}: {name} is not a list.", body=json.dumps(data)[:2000])
    next_page = data.get("cursor")
    if next_page is not None and not isinstance(next_page, str):
        raise MalformedPage(f"{where}: cursor is not a string.", body=json.dumps(data)[:2000])
    return records, next_page or None


def _paged(records: list[Any], cursor: dict[str, Any], next_page: str | None, stamp: str,
           context: dict[str, Any]) -> Page:
    """The page with its checkpoint: mid-query, Square's cursor and the highest stamp seen so far; at the end of the
    query, that stamp becomes the `since` of the next run (inclusive: the last records come once more, unchanged)."""
    high = cursor.get("high") or cursor.get("since")
    for record in records:
        try:
            seen = iso(moment(record, stamp)) if isinstance(record, dict) else None
        except RecordRejected:
            seen = None
        if seen and (high is None or seen > high):
            high = seen
    if next_page:
        return Page(records, {"since": cursor.get("since"), "page": next_page, "high": high}, False, context)
    return Page(records, {"since": high} if high else {}, True, context)


def _money(money: dict[str, Any], where: str) -> tuple[Decimal, str]:
    amount, currency = money.get("amount"), money.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise reject(f"{where}amount", "Expected an integer amount in minor units.")
    if not isinstance(currency, str) or len(currency) != 3:
        raise reject(f"{where}currency", "Expected a three-letter currency code.")
    digits = MINOR_UNIT_DIGITS.get(currency.upper(), 2)
    return Decimal(amount).scaleb(-digits), currency.upper()


def _line(item: Any, where: str, currencies: set[str], *, is_return: bool) -> OrderLineData:
    if not isinstance(item, dict):
        raise reject(where.rstrip("."), "Expected an object.")
    raw_quantity = text(item, "quantity", required=True, where=where)
    try:
        quantity = Decimal(raw_quantity)
    except ArithmeticError:
        raise reject(f"{where}quantity", f"{raw_quantity!r} is not a number.") from None
    if not quantity.is_finite() or quantity != quantity.to_integral_value() or quantity <= 0 or quantity > 10**6:
        raise reject(f"{where}quantity", f"{raw_quantity!r} is not a whole quantity Atelier records.")
    # The price paid: the line's total after discounts (before tax), spread over its quantity.
    total, currency = _money(obj(item, "total_money", where=where), f"{where}total_money.")
    currencies.add(currency)
    unit_price = (total / quantity).quantize(Decimal("0.01"))
    name = text(item, "name", max_length=160, where=where)
    sku = text(item, "catalog_object_id", max_length=40, where=where) or _sku_from_name(name)
    if not sku:
        raise reject(f"{where}catalog_object_id", "A line needs a catalog object id or a name.")
    count = int(quantity)
    return OrderLineData(sku=sku, quantity=-count if is_return else count, unit_price=unit_price,
                         product_name=name, is_return=is_return)


def _sku_from_name(name: str) -> str:
    """A stable SKU for an article sold without a catalog entry (Square's ad hoc items)."""
    return f"square-{name.lower().replace(' ', '-')}"[:40] if name else ""


def _profile_text(profile: dict[str, Any], name: str) -> str | None:
    value = profile.get(name)
    return value.strip() or None if isinstance(value, str) else None
