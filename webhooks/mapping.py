"""Pure mapping from the platforms' webhook bodies to what Atelier's services take. No database here.

Money follows one convention for both platforms: an order's lines are its articles at the price the client paid
(line discounts deducted), and the order's total is the sum of its lines. Tax, shipping and fees are not client
value and stay out, so the platform's `total_price` is not the Atelier total (see README "Ecommerce webhooks").
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import ApplicationError
from core.external_ids import external_id_check
from core.moments import happened_at_check
from customers.models import Channel, ConsentChannel
from touchpoints.models import Order
from touchpoints.services import OrderLineData

CENT = Decimal("0.01")
# An order's id column, the shortest of those a platform's ids go to.
ID_MAX_LENGTH = Order._meta.get_field("external_id").max_length

# The topics Atelier handles, in Shopify's words; WooCommerce's are translated to them.
ORDER_CREATED = "orders/create"
ORDER_UPDATED = "orders/updated"
CHECKOUT_CREATED = "checkouts/create"
CUSTOMER_CREATED = "customers/create"
CUSTOMER_UPDATED = "customers/update"
ORDER_TOPICS = frozenset({ORDER_CREATED, ORDER_UPDATED})
CUSTOMER_TOPICS = frozenset({CUSTOMER_CREATED, CUSTOMER_UPDATED})
WOOCOMMERCE_TOPICS = {
    "order.created": ORDER_CREATED,
    "order.updated": ORDER_UPDATED,
    "customer.created": CUSTOMER_CREATED,
    "customer.updated": CUSTOMER_UPDATED,
}


class MappingError(ApplicationError):
    """The body lacks something Atelier needs, or holds it in a form that cannot be read."""


@dataclass
class ConsentData:
    channel: str
    is_granted: bool
    occurred_at: dt.datetime


@dataclass
class ClientData:
    """Who a body is about, as the platform knows them. Blank values never erase what Atelier knows."""

    external_id: str = ""
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    city: str = ""
    country: str = ""
    consents: list[ConsentData] = field(default_factory=list)
    # The platform vouches that the email is the person's own (an account whose email was verified), so the record
    # may update the client's name, email and phone (customers.services.identity). A guest checkout does not.
    is_verified: bool = False
    # The platform's updated_at of this version of the client: an older version arriving late is not applied.
    version: dt.datetime | None = None


@dataclass
class OrderData:
    external_id: str
    placed_at: dt.datetime
    currency: str
    status: str
    channel: str
    lines: list[OrderLineData]
    client: ClientData
    # The platform's updated_at of this version of the order (webhooks may arrive out of order).
    version: dt.datetime | None = None

    @property
    def total(self) -> Decimal:
        return sum((Decimal(str(line.unit_price)) * line.quantity for line in self.lines), Decimal("0.00"))


@dataclass
class CartData:
    """An abandoned checkout: the cart the client left, and how to bring them back to it."""

    external_id: str
    occurred_at: dt.datetime
    currency: str
    lines: list[OrderLineData]
    client: ClientData
    recovery_url: str = ""
    is_completed: bool = False

    @property
    def amount(self) -> Decimal:
        return sum((Decimal(str(line.unit_price)) * line.quantity for line in self.lines), Decimal("0.00"))


# --- small readers -------------------------------------------------------------------------------------------


def text(value: Any) -> str:
    """A value as stripped text; None, and ids of 0 (WooCommerce's guest), are blank."""
    if value is None or value == 0 or isinstance(value, bool):
        return ""
    return str(value).strip()


def money(value: Any, *, where: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except (InvalidOperation, ValueError):
        raise MappingError.for_field(where, f"{value!r} is not an amount.") from None
    if not amount.is_finite():
        raise MappingError.for_field(where, f"{value!r} is not an amount.")
    return amount


def optional_moment(value: Any, *, where: str, naive_is_utc: bool = False) -> dt.datetime | None:
    return moment(value, where=where, naive_is_utc=naive_is_utc) if value else None


def moment(value: Any, *, where: str, naive_is_utc: bool = False) -> dt.datetime:
    """An ISO 8601 time. Shopify sends an offset; WooCommerce's `*_gmt` fields are UTC without one."""
    if not value:
        raise MappingError.for_field(where, "The body has no time for this.")
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise MappingError.for_field(where, f"{value!r} is not a time.") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise MappingError.for_field(where, f"{value!r} has no time zone.")
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        happened_at_check(parsed, field=where)
    except ApplicationError as error:
        raise MappingError(f"{where}: {error.message}", extra={"fields": {where: [error.message]}}) from None
    return parsed


def quantity_of(value: Any, *, where: str) -> int:
    try:
        quantity = int(value)
    except (TypeError, ValueError):
        raise MappingError.for_field(where, f"{value!r} is not a whole quantity.") from None
    return quantity


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def identifier(value: Any, *, where: str) -> str:
    """A record's id at the platform, as text ("" for none, and for WooCommerce's guest 0). A number that is no
    whole number (NaN, an infinity, 1e400) is refused: str() would make it the id "nan" or "inf"."""
    if value is None or value == 0 or isinstance(value, bool):
        return ""
    try:
        return external_id_check(value, field=where, max_length=ID_MAX_LENGTH)
    except ApplicationError as error:
        raise MappingError(f"{where}: {error.message}", extra={"fields": {where: [error.message]}}) from None


def required_id(payload: dict[str, Any], key: str = "id") -> str:
    external_id = identifier(payload.get(key), where=key)
    if not external_id:
        raise MappingError.for_field(key, f"The body has no {key!r}.")
    return external_id


# --- Shopify -------------------------------------------------------------------------------------------------


def shopify_consents(customer: dict[str, Any]) -> list[ConsentData]:
    """Marketing consent from a Shopify customer: the newer `*_marketing_consent` objects when present, else the
    older `accepts_marketing` flag. A pending double opt-in says nothing yet, so it records nothing."""
    consents = []
    fallback_moment = customer.get("updated_at") or customer.get("created_at")
    email_consent = _dict(customer.get("email_marketing_consent"))
    if email_consent.get("state"):
        if email_consent["state"] in ("subscribed", "not_subscribed", "unsubscribed"):
            consents.append(
                ConsentData(
                    channel=ConsentChannel.EMAIL,
                    is_granted=email_consent["state"] == "subscribed",
                    occurred_at=moment(email_consent.get("consent_updated_at") or fallback_moment,
                                       where="email_marketing_consent.consent_updated_at"),
                )
            )
    elif isinstance(customer.get("accepts_marketing"), bool):
        consents.append(
            ConsentData(
                channel=ConsentChannel.EMAIL,
                is_granted=customer["accepts_marketing"],
                occurred_at=moment(customer.get("accepts_marketing_updated_at") or fallback_moment,
                                   where="accepts_marketing_updated_at"),
            )
        )
    sms_consent = _dict(customer.get("sms_marketing_consent"))
    if sms_consent.get("state") in ("subscribed", "not_subscribed", "unsubscribed"):
        consents.append(
            ConsentData(
                channel=ConsentChannel.SMS,
                is_granted=sms_consent["state"] == "subscribed",
                occurred_at=moment(sms_consent.get("consent_updated_at") or fallback_moment,
                                   where="sms_marketing_consent.consent_updated_at"),
            )
        )
    return consents


def shopify_client(customer: dict[str, Any], *, envelope: dict[str, Any] | None = None) -> ClientData:
    """The client of a Shopify customer object; `envelope` (an order or checkout) fills what the customer lacks."""
    envelope = envelope or {}
    billing = _dict(envelope.get("billing_address")) or _dict(envelope.get("shipping_address"))
    address = _dict(customer.get("default_address")) or billing
    return ClientData(
        # An account the person activated ("enabled"), with the email they confirmed: not a guest checkout, whose
        # customer record holds whatever email was typed at the checkout.
        is_verified=customer.get("state") == "enabled" and customer.get("verified_email") is True
        and bool(text(customer.get("email"))),
        external_id=identifier(customer.get("id"), where="customer.id"),
        email=text(customer.get("email")) or text(envelope.get("email")),
        phone=text(customer.get("phone")) or text(envelope.get("phone")) or text(address.get("phone"))
        or text(billing.get("phone")),
        first_name=text(customer.get("first_name")) or text(billing.get("first_name")),
        last_name=text(customer.get("last_name")) or text(billing.get("last_name")),
        city=text(address.get("city")),
        country=text(address.get("country_code")),
    )


def shopify_customer(payload: dict[str, Any]) -> ClientData:
    """customers/create and customers/update: the client with their marketing consent."""
    client = shopify_client(payload)
    client.consents = shopify_consents(payload)
    client.version = optional_moment(payload.get("updated_at"), where="updated_at")
    return client


def _shopify_sku(line: dict[str, Any]) -> str:
    # Articles without a SKU still need a stable one: the variant, else the product, else the line.
    return (
        text(line.get("sku"))
        or (f"variant-{text(line.get('variant_id'))}" if text(line.get("variant_id")) else "")
        or (f"product-{text(line.get('product_id'))}" if text(line.get("product_id")) else "")
        or f"line-{text(line.get('id'))}"
    )


def _shopify_paid_unit_price(line: dict[str, Any], quantity: int, where: str) -> Decimal:
    """The price of one article after the discounts the platform allocated to its line."""
    price = money(line.get("price"), where=f"{where}.price")
    allocations = _list(line.get("discount_allocations"))
    if allocations:
        discount = sum((money(_dict(a).get("amount"), where=f"{where}.discount") for a in allocations), Decimal(0))
    else:
        discount = money(line.get("total_discount"), where=f"{where}.total_discount")
    if not quantity or not discount:
        return price.quantize(CENT)
    return max((price * quantity - discount) / quantity, Decimal(0)).quantize(CENT)


def shopify_lines(items: list[Any], *, where: str = "line_items") -> tuple[list[OrderLineData], dict[str, Decimal]]:
    """The article lines, and the paid unit price of each platform line id (for refunds to reuse)."""
    lines, unit_prices = [], {}
    for number, item in enumerate(items, start=1):
        item = _dict(item)
        here = f"{where}[{number}]"
        quantity = quantity_of(item.get("quantity"), where=f"{here}.quantity")
        unit_price = _shopify_paid_unit_price(item, quantity, here)
        unit_prices[text(item.get("id"))] = unit_price
        lines.append(
            OrderLineData(
                sku=_shopify_sku(item),
                quantity=quantity,
                unit_price=unit_price,
                product_name=text(item.get("name")) or text(item.get("title")),
            )
        )
    return lines, unit_prices


def _shopify_return_lines(payload: dict[str, Any], unit_prices: dict[str, Decimal]) -> list[OrderLineData]:
    """Each refunded article becomes a return line (negative quantity) at the price it was sold for."""
    returns = []
    for refund in _list(payload.get("refunds")):
        for number, refunded in enumerate(_list(_dict(refund).get("refund_line_items")), start=1):
            refunded = _dict(refunded)
            item = _dict(refunded.get("line_item"))
            quantity = quantity_of(refunded.get("quantity"), where=f"refunds.refund_line_items[{number}].quantity")
            if quantity <= 0:
                continue
            line_id = text(refunded.get("line_item_id")) or text(item.get("id"))
            unit_price = unit_prices.get(line_id)
            if unit_price is None:
                unit_price = money(item.get("price"), where="refunds.line_item.price").quantize(CENT)
            returns.append(
                OrderLineData(
                    sku=_shopify_sku(item),
                    quantity=-quantity,
                    unit_price=unit_price,
                    product_name=text(item.get("name")) or text(item.get("title")),
                    is_return=True,
                )
            )
    return returns


def shopify_order_status(payload: dict[str, Any]) -> str:
    if payload.get("cancelled_at") or payload.get("financial_status") == "voided":
        return Order.Status.CANCELLED
    if payload.get("financial_status") == "refunded":
        return Order.Status.RETURNED
    if payload.get("fulfillment_status") == "fulfilled":
        return Order.Status.FULFILLED
    return Order.Status.PLACED


def shopify_order(payload: dict[str, Any]) -> OrderData:
    """orders/create and orders/updated. A POS order (`source_name: "pos"`) was sold in a boutique."""
    lines, unit_prices = shopify_lines(_list(payload.get("line_items")))
    return OrderData(
        external_id=required_id(payload),
        placed_at=moment(payload.get("created_at") or payload.get("processed_at"), where="created_at"),
        currency=text(payload.get("currency")).upper(),
        status=shopify_order_status(payload),
        channel=Channel.BOUTIQUE if payload.get("source_name") == "pos" else Channel.WEB,
        lines=lines + _shopify_return_lines(payload, unit_prices),
        client=shopify_client(_dict(payload.get("customer")), envelope=payload),
        version=optional_moment(payload.get("updated_at"), where="updated_at"),
    )


def shopify_checkout(payload: dict[str, Any]) -> CartData:
    """checkouts/create: the cart, identified by its token (else its id)."""
    external_id = identifier(payload.get("token"), where="token") or identifier(payload.get("id"), where="id")
    if not external_id:
        raise MappingError.for_field("token", "The checkout has neither a token nor an id.")
    lines, _ = shopify_lines(_list(payload.get("line_items")))
    client = shopify_client(_dict(payload.get("customer")), envelope=payload)
    client.external_id = client.external_id or identifier(payload.get("customer_id"), where="customer_id")
    return CartData(
        external_id=external_id,
        occurred_at=moment(payload.get("updated_at") or payload.get("created_at"), where="updated_at"),
        currency=text(payload.get("presentment_currency")) or text(payload.get("currency")),
        lines=lines,
        client=client,
        recovery_url=text(payload.get("abandoned_checkout_url")),
        is_completed=bool(payload.get("completed_at")),
    )


# --- WooCommerce ---------------------------------------------------------------------------------------------

WOOCOMMERCE_STATUSES = {
    "completed": Order.Status.FULFILLED,
    "cancelled": Order.Status.CANCELLED,
    "failed": Order.Status.CANCELLED,
    "trash": Order.Status.CANCELLED,
    "refunded": Order.Status.RETURNED,
}


def woocommerce_client(payload: dict[str, Any], *, customer_id_key: str) -> ClientData:
    """The client of a WooCommerce customer or order; `customer_id` 0 is a guest, known by email or phone only."""
    billing = _dict(payload.get("billing"))
    return ClientData(
        external_id=identifier(payload.get(customer_id_key), where=customer_id_key),
        email=text(payload.get("email")) or text(billing.get("email")),
        phone=text(billing.get("phone")),
        first_name=text(payload.get("first_name")) or text(billing.get("first_name")),
        last_name=text(payload.get("last_name")) or text(billing.get("last_name")),
        city=text(billing.get("city")),
        country=text(billing.get("country")),
    )


def woocommerce_customer(payload: dict[str, Any]) -> ClientData:
    """customer.created and customer.updated. WooCommerce sends no marketing consent."""
    client = woocommerce_client(payload, customer_id_key="id")
    client.version = optional_moment(payload.get("date_modified_gmt"), where="date_modified_gmt", naive_is_utc=True)
    return client


def woocommerce_order(payload: dict[str, Any]) -> OrderData:
    """order.created and order.updated. A line's `total` is after discounts, before tax."""
    lines = []
    for number, item in enumerate(_list(payload.get("line_items")), start=1):
        item = _dict(item)
        here = f"line_items[{number}]"
        quantity = quantity_of(item.get("quantity"), where=f"{here}.quantity")
        paid = money(item.get("total"), where=f"{here}.total")
        product = text(item.get("variation_id")) or text(item.get("product_id"))
        lines.append(
            OrderLineData(
                sku=text(item.get("sku")) or (f"product-{product}" if product else f"line-{text(item.get('id'))}"),
                quantity=quantity,
                unit_price=(paid / quantity).quantize(CENT) if quantity else paid.quantize(CENT),
                # WooCommerce sends product names HTML-escaped ("Ship Your Idea &ndash; Black").
                product_name=html.unescape(text(item.get("name"))),
            )
        )
    return OrderData(
        external_id=required_id(payload),
        placed_at=moment(payload.get("date_created_gmt"), where="date_created_gmt", naive_is_utc=True),
        currency=text(payload.get("currency")).upper(),
        status=WOOCOMMERCE_STATUSES.get(text(payload.get("status")), Order.Status.PLACED),
        channel=Channel.WEB,
        lines=lines,
        client=woocommerce_client(payload, customer_id_key="customer_id"),
        version=optional_moment(payload.get("date_modified_gmt"), where="date_modified_gmt", naive_is_utc=True),
    )


# --- a body's own identity, for replays ------------------------------------------------------------------------

# Where each platform puts the moment a body's record was last changed (the version the body carries).
VERSION_KEYS = {"shopify": ("updated_at",), "woocommerce": ("date_modified_gmt", "date_modified")}
# Short enough for both, and the body's digest, to fit WebhookDelivery.body_key.
IDENTITY_MAX_LENGTH = 80


def body_identity(provider: str, payload: dict[str, Any]) -> tuple[str, str] | None:
    """The body's own id (a checkout's token when it has no id) and updated_at, as the platform signed them; None
    when it lacks either. Unlike the topic and event id headers, these are signed: a replay cannot change them."""
    identity = next(
        (
            str(value).strip()
            for value in (payload.get("id"), payload.get("token"))
            if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.strip())
        ),
        "",
    )
    version = next(
        (value.strip() for key in VERSION_KEYS.get(provider, ()) if isinstance(value := payload.get(key), str)
         and value.strip()),
        "",
    )
    # An id or version that is no printable text (a NUL, a control character) names nothing the platform sent as a
    # record: the body is then known by its digest alone, and its handler refuses the id with the reason.
    if not identity or not version or not (identity + version).isprintable():
        return None
    return identity[:IDENTITY_MAX_LENGTH], version[:IDENTITY_MAX_LENGTH]
