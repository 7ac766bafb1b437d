"""Receiving webhooks: every delivery is recorded first, then its body is mapped onto clients, orders and abandoned
carts through the customers and touchpoints services (survey tools' answers through feedback's: webhooks.surveys), in
the request, one transaction per delivery.

Answers, so that a platform neither loses an event nor retries one forever: a delivery that is processed, a
duplicate, an ignored topic, and a failure that is recorded all get 200 (a failure waits in the admin for a replay
once its cause is fixed); a bad or missing signature gets 401 and processes nothing; a body that is not JSON gets
400 (and is recorded as failed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

import pghistory
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from core.errors import ApplicationError
from core.parsing import JSONRefused, json_loads
from customers.models import Channel, ConsentPurpose, Customer, SourceSystem
from customers.normalizers import normalize_phone
from customers.services import consent_record, customer_upsert
from customers.services.consent import consent_key
from touchpoints.services import interaction_record, order_record
from webhooks import mapping, surveys
from webhooks.handling import Handled, Handler, newer_version_applied, stale
from webhooks.models import Provider, WebhookDelivery
from webhooks.schemes import SCHEMES, Scheme

logger = logging.getLogger(__name__)

Outcome = WebhookDelivery.Outcome
ErrorCode = WebhookDelivery.ErrorCode


# What a kept header may hold: the claimed headers of a rejected delivery are whatever the sender chose.
HEADER_MAX_LENGTH = 255
# Deliveries deleted per statement by the purge.
PURGE_CHUNK = 5_000

# WooCommerce checks a new webhook's URL with an unsigned form post of its id, and refuses to save it on non-200.
WOOCOMMERCE_PING = re.compile(rb"webhook_id=\d+")


def webhook_is_ping(*, provider: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether this is WooCommerce's unsigned ping on saving a webhook: answered 200, recorded nowhere."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return (
        provider == Provider.WOOCOMMERCE
        and SCHEMES[provider].signature not in lowered
        and WOOCOMMERCE_PING.fullmatch(body.strip()) is not None
    )


def webhook_receive(*, provider: str, body: bytes, headers: Mapping[str, str]) -> WebhookDelivery:
    """Verify, record and process one delivery; returns its log row (see the module's note for the answers).

    A delivery whose (provider, event id) is already held is recorded as a duplicate and does nothing. Without an
    event id header the body's SHA-256 stands in for it, so an identical body sent again is still a duplicate.
    """
    scheme = SCHEMES[Provider(provider)]
    lowered = {name.lower(): value for name, value in headers.items()}
    event_id = next((lowered[name] for name in scheme.event_ids if lowered.get(name)), "")
    event_id = (event_id or f"sha256:{hashlib.sha256(body).hexdigest()}")[:255]
    values = {
        "provider": provider,
        "event_id": event_id,
        "topic": lowered.get(scheme.topic, "")[:120],
        "shop": lowered.get(scheme.shop, "")[:255],
        "headers": {name: lowered[name][:HEADER_MAX_LENGTH] for name in scheme.kept if name in lowered},
    }

    secret = getattr(settings, scheme.secret_setting, "")
    if not secret:
        return _reject(values, ErrorCode.NOT_CONFIGURED, f"{scheme.secret_setting} is not set: deliveries are refused.")
    if scheme.secret_problem is not None and (problem := scheme.secret_problem(secret)):
        return _reject(values, ErrorCode.NOT_CONFIGURED, f"{scheme.secret_setting} {problem}: deliveries are refused.")
    if not scheme.is_signed(body, secret, lowered):
        return _reject(values, ErrorCode.BAD_SIGNATURE, f"The {scheme.signature} header does not sign this body.")
    if scheme.body_topic or scheme.body_event_id:
        values.update(_from_body(body, scheme))
        event_id = values["event_id"]

    # Stored as text for reading and replay; the signature was checked on the bytes above.
    # PostgreSQL text holds no NUL character.
    values["body"] = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    with transaction.atomic():
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(**values)
        except IntegrityError:
            # The event id is held (the first delivery may still be processing: the insert waited for it).
            original = WebhookDelivery.objects.filter(
                provider=provider, event_id=event_id, outcome__in=WebhookDelivery.COUNTED_OUTCOMES
            ).first()
            duplicate = WebhookDelivery.objects.create(
                **values, outcome=Outcome.DUPLICATE, original=original, processed_at=timezone.now()
            )
            logger.info("webhooks.duplicate delivery_id=%s original_id=%s", duplicate.pk, getattr(original, "pk", None))
            return duplicate
        _process(delivery)
    return delivery


def _from_body(body: bytes, scheme: Scheme) -> dict[str, str]:
    """The topic and event id a survey tool signed into its body (when the body is a JSON object that has them)."""
    try:
        payload = json_loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}  # _process records the body as malformed
    if not isinstance(payload, dict):
        return {}
    found = {}
    topic = next((payload[key] for key in scheme.body_topic if isinstance(payload.get(key), str)), "")
    if topic:
        found["topic"] = topic.strip()[:120]
    event_id = next((payload[key] for key in scheme.body_event_id if isinstance(payload.get(key), str | int)), "")
    if str(event_id).strip():
        found["event_id"] = str(event_id).strip()[:255]
    return found


def _reject(values: dict[str, Any], code: str, message: str) -> WebhookDelivery:
    # Kept without its body: nothing unauthenticated is stored for replay, only the fact and the claimed headers.
    delivery = WebhookDelivery.objects.create(
        **values, outcome=Outcome.REJECTED, error_code=code, error_message=message, processed_at=timezone.now()
    )
    logger.warning("webhooks.rejected delivery_id=%s provider=%s code=%s", delivery.pk, delivery.provider, code)
    return delivery


def webhook_deliveries_purge(*, older_than: dt.timedelta) -> int:
    """Delete the deliveries received longer ago than `older_than`; returns how many went.

    Kept whatever their age: failed deliveries (they wait for a replay), and the processed delivery holding the
    newest applied version of each record, which an old body sent again must still meet (a replay changes nothing).
    A duplicate goes with its original.
    """
    limit = timezone.now() - older_than
    newest = (
        WebhookDelivery.objects.filter(
            provider=OuterRef("provider"), subject=OuterRef("subject"), outcome=Outcome.PROCESSED
        )
        .order_by(F("subject_version").desc(nulls_last=True), "-pk")
        .values("pk")[:1]
    )
    kept = WebhookDelivery.objects.filter(outcome=Outcome.PROCESSED).exclude(subject="").filter(pk=Subquery(newest))
    old = (
        WebhookDelivery.objects.filter(received_at__lt=limit)
        .exclude(outcome=Outcome.FAILED)
        .exclude(pk__in=kept.values("pk"))
    )
    deleted = 0
    while chunk := list(old.order_by("pk").values_list("pk", flat=True)[:PURGE_CHUNK]):
        deleted += WebhookDelivery.objects.filter(pk__in=chunk).delete()[1].get(WebhookDelivery._meta.label, 0)
    if deleted:
        logger.info("webhooks.deliveries_purged count=%s", deleted)
    return deleted


@transaction.atomic
def webhook_replay(*, delivery: WebhookDelivery, actor: AbstractBaseUser | None = None) -> WebhookDelivery:
    """Process a failed delivery's stored body again (once its cause is fixed) and record the new outcome."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.outcome != Outcome.FAILED:
        raise ApplicationError(
            "Only a failed delivery can be replayed.", extra={"delivery": delivery.pk, "outcome": delivery.outcome}
        )
    delivery.replayed_by = actor
    _process(delivery)
    return delivery


def _process(delivery: WebhookDelivery) -> None:
    """Run the topic's handler in a savepoint: a failure rolls back its writes but not the delivery's record."""
    delivery.attempts = F("attempts") + 1
    delivery.error_code, delivery.error_message, delivery.result = "", "", ""
    try:
        payload = json_loads(delivery.body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except JSONRefused as error:  # too deep, a lone surrogate, a number out of range
        handled = None
        delivery.outcome, delivery.error_code = Outcome.FAILED, ErrorCode.MALFORMED
        delivery.error_message = str(error)
    except ValueError:
        handled = None
        delivery.outcome, delivery.error_code = Outcome.FAILED, ErrorCode.MALFORMED
        delivery.error_message = "The body is not a JSON object."
    else:
        identity = mapping.body_identity(delivery.provider, payload)
        delivery.body_key = _body_key(identity, delivery.body)
        applied_by = _body_applied_by(delivery)
        handler = handler_for(delivery.provider, delivery.topic)
        if applied_by is not None:
            delivery.original = applied_by
            what = f"id {identity[0]}, updated {identity[1]}" if identity else "byte for byte"
            handled = Handled(Outcome.DUPLICATE, f"The same body ({what}) was applied by delivery {applied_by.pk}.")
        elif handler is None:
            handled = Handled(Outcome.IGNORED, f"Topic {delivery.topic!r} is not handled.")
        else:
            handled = _run(delivery, handler, payload)
    if handled is not None:
        delivery.outcome, delivery.result = handled.outcome, handled.result[:255]
        delivery.subject, delivery.subject_version = handled.subject[:120], handled.subject_version
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=[
        "attempts", "outcome", "error_code", "error_message", "result", "subject", "subject_version", "processed_at",
        "replayed_by", "body_key", "original",
    ])
    delivery.refresh_from_db(fields=["attempts"])
    log = logger.warning if delivery.outcome == Outcome.FAILED else logger.info
    log(
        "webhooks.%s delivery_id=%s provider=%s topic=%s attempts=%s",
        delivery.outcome, delivery.pk, delivery.provider, delivery.topic, delivery.attempts,
    )


def _body_key(identity: tuple[str, str] | None, body: str) -> str:
    """The body's own id and updated_at, and its SHA-256: the id and version name what a replay would apply again;
    the digest keeps two changes of one record within the same second (updated_at has whole seconds) apart."""
    digest = f"sha256:{hashlib.sha256(body.encode('utf-8')).hexdigest()}"
    if identity is None:
        return digest
    return f"id:{identity[0]}|updated:{identity[1]}|{digest}"


def _body_applied_by(delivery: WebhookDelivery) -> WebhookDelivery | None:
    """The processed delivery that already applied this body, if any: then this one is a replay (any topic, any
    event id) and must change nothing.

    A transaction lock on the body's key makes two deliveries of one body take turns: the second sees the first's
    outcome. Only a processed delivery holds the body: the same version sent under a topic Atelier ignores
    (orders/paid) first, or failing first, does not keep the topic it handles from applying it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"webhooks-body:{delivery.provider}:{delivery.body_key}"]
        )
    return (
        WebhookDelivery.objects.filter(
            provider=delivery.provider, body_key=delivery.body_key, outcome=Outcome.PROCESSED
        )
        .exclude(pk=delivery.pk)
        .order_by("pk")
        .first()
    )


def _run(delivery: WebhookDelivery, handler: Handler, payload: dict[str, Any]) -> Handled | None:
    try:
        with transaction.atomic(), pghistory.context(webhook_delivery_id=delivery.pk, provider=delivery.provider):
            return handler(payload)
    except ApplicationError as error:
        # A client not found yet (surveys.ClientNotFound) says so, for head office to import or merge, then replay.
        delivery.outcome, delivery.error_code = Outcome.FAILED, getattr(error, "error_code", ErrorCode.INVALID)
        delivery.error_message = _describe(error.message, error.fields)
    except ValidationError as error:
        delivery.outcome, delivery.error_code = Outcome.FAILED, ErrorCode.INVALID
        delivery.error_message = "; ".join(error.messages)
    except Exception as error:  # noqa: BLE001 (a bug must not lose the delivery: it is recorded for a replay)
        logger.exception("webhooks.unexpected_error delivery_id=%s", delivery.pk)
        delivery.outcome, delivery.error_code = Outcome.FAILED, ErrorCode.UNEXPECTED
        delivery.error_message = f"{type(error).__name__}: {error}"
    return None


def _describe(message: str, fields: dict[str, list[str]]) -> str:
    details = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
    return f"{message} ({details})" if details and details not in message else message


# --- topics --------------------------------------------------------------------------------------------------


def handler_for(provider: str, topic: str) -> Handler | None:
    """The function that handles a provider's topic, or None for a topic Atelier ignores."""
    if provider in surveys.SURVEY_PROVIDERS:
        return surveys.handler_for(provider, topic)
    if provider == Provider.WOOCOMMERCE:
        canonical = mapping.WOOCOMMERCE_TOPICS.get(topic)
        if canonical in mapping.ORDER_TOPICS:
            return lambda payload: order_sync(order=mapping.woocommerce_order(payload), provider=provider)
        if canonical in mapping.CUSTOMER_TOPICS:
            return lambda payload: client_sync(client=mapping.woocommerce_customer(payload), provider=provider)
        return None
    if topic in mapping.ORDER_TOPICS:
        return _shopify_order
    if topic == mapping.CHECKOUT_CREATED:
        return lambda payload: cart_abandoned_record(cart=mapping.shopify_checkout(payload))
    if topic in mapping.CUSTOMER_TOPICS:
        return lambda payload: client_sync(client=mapping.shopify_customer(payload), provider=provider)
    return None


def _shopify_order(payload: dict[str, Any]) -> Handled:
    # A test-mode order (the shop trying its checkout) is no sale: it would count in the client's value.
    if payload.get("test") is True:
        return Handled(Outcome.IGNORED, f"Order {mapping.text(payload.get('id'))} is a test order.")
    return order_sync(order=mapping.shopify_order(payload), provider=Provider.SHOPIFY)


def _usable_phone(phone: str, country: str) -> str:
    # Checkout forms take any text as a phone; an unusable one is dropped rather than losing the order with it.
    try:
        return normalize_phone(phone, region=country or None)
    except ApplicationError:
        logger.info("webhooks.phone_dropped")
        return ""


def client_upsert(*, client: mapping.ClientData) -> Customer:
    """Find or create the client a body is about: by their ecommerce id, else their email, else their phone. Only a
    verified account updates the name, email and phone of a client it does not own (customer_upsert's rule)."""
    result = customer_upsert(
        source=SourceSystem.ECOMMERCE,
        is_verified=client.is_verified,
        external_id=client.external_id or None,
        email=client.email or None,
        phone=_usable_phone(client.phone, client.country) or None,
        first_name=client.first_name or None,
        last_name=client.last_name or None,
        city=client.city or None,
        country=client.country or None,
    )
    return result.customer


@transaction.atomic
def client_sync(*, client: mapping.ClientData, provider: str) -> Handled:
    """customers/create, customers/update: the client, and each marketing consent that changes theirs."""
    subject = f"customer:{client.external_id}" if client.external_id else ""
    if subject and (newer := newer_version_applied(provider=provider, subject=subject, version=client.version)):
        return stale(subject, client.version, newer)
    customer = client_upsert(client=client)
    recorded = 0
    for consent in client.consents:
        # The platform repeats its flag on every update: only a change is an event in the consent ledger.
        current = customer.consent.get(consent_key(consent.channel, ConsentPurpose.MARKETING))
        if bool(current) == consent.is_granted:
            continue
        consent_record(
            customer=customer, channel=consent.channel, purpose=ConsentPurpose.MARKETING,
            is_granted=consent.is_granted, occurred_at=consent.occurred_at, source=SourceSystem.ECOMMERCE,
        )
        customer.refresh_from_db(fields=["consent"])
        recorded += 1
    return Handled(
        Outcome.PROCESSED, f"Client {customer.pk} up to date; {recorded} consent change(s) recorded.", subject,
        client.version,
    )


@transaction.atomic
def order_sync(*, order: mapping.OrderData, provider: str) -> Handled:
    """orders/create, orders/updated: the client, then the order with its lines, returns and status. A version
    older than one already applied is ignored."""
    subject = f"order:{order.external_id}"
    if newer := newer_version_applied(provider=provider, subject=subject, version=order.version):
        return stale(subject, order.version, newer)
    customer = client_upsert(client=order.client)
    recorded = order_record(
        source=SourceSystem.ECOMMERCE,
        external_id=order.external_id,
        customer=customer,
        placed_at=order.placed_at,
        currency=order.currency,
        total=order.total,
        lines=order.lines,
        status=order.status,
        channel=order.channel,
    )
    what = "recorded" if recorded.created else "updated" if recorded.changed else "unchanged"
    return Handled(
        Outcome.PROCESSED, f"Order {order.external_id} {what} ({order.status}) for client {customer.pk}.", subject,
        order.version,
    )


@transaction.atomic
def cart_abandoned_record(*, cart: mapping.CartData) -> Handled:
    """checkouts/create: a `cart_abandoned` touchpoint on the client's timeline, once per checkout."""
    if cart.is_completed:
        return Handled(Outcome.IGNORED, f"Checkout {cart.external_id} was completed: not an abandoned cart.")
    customer = client_upsert(client=cart.client)
    recorded = interaction_record(
        customer=customer,
        touchpoint_type="cart_abandoned",
        occurred_at=cart.occurred_at,
        source=SourceSystem.ECOMMERCE,
        external_id=f"checkout:{cart.external_id}",
        channel=Channel.WEB,
        amount=cart.amount if cart.lines else None,
        currency=cart.currency,
        metadata={
            "checkout": cart.external_id,
            "items": [{"sku": line.sku, "quantity": line.quantity} for line in cart.lines],
            "recovery_url": cart.recovery_url,
        },
    )
    what = "recorded" if recorded.created else "already on the timeline"
    # A subject, so that the purge keeps the checkout's newest delivery (and its body key) as it does an order's.
    return Handled(
        Outcome.PROCESSED, f"Abandoned cart {cart.external_id} {what} for client {customer.pk}.",
        f"checkout:{cart.external_id}", cart.occurred_at,
    )
