"""Where each provider puts its signature, topic, event id and shop, which setting holds its secret, and how its
signature is checked (webhooks.signatures)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from webhooks.models import Provider
from webhooks.signatures import (
    signature_is_valid,
    standard_webhook_is_valid,
    standard_webhook_secret_problem,
    typeform_signature_is_valid,
)


def _hmac_header(name: str) -> Callable[[bytes, str, Mapping[str, str]], bool]:
    return lambda body, secret, headers: signature_is_valid(body, secret, headers.get(name))


@dataclass(frozen=True)
class Scheme:
    """Where a provider puts the signature, the topic, the event id and the shop, and which setting has its secret."""

    signature: str
    topic: str
    event_ids: tuple[str, ...]
    shop: str
    secret_setting: str
    # The headers kept with a delivery (for reading and replay), each capped at services.HEADER_MAX_LENGTH; no others.
    kept: tuple[str, ...]
    # Whether the (lower-cased) headers sign the body with the secret; base64 HMAC-SHA256 in `signature` by default.
    verify: Callable[[bytes, str, Mapping[str, str]], bool] | None = None
    # Why a secret that is set cannot be used ("" when it can): a misconfiguration, not a bad delivery.
    secret_problem: Callable[[str], str] | None = None
    # Survey tools put the topic and the event id in the (signed) body: the first of these keys that has one.
    body_topic: tuple[str, ...] = ()
    body_event_id: tuple[str, ...] = ()

    def is_signed(self, body: bytes, secret: str, headers: Mapping[str, str]) -> bool:
        return (self.verify or _hmac_header(self.signature))(body, secret, headers)


SCHEMES = {
    Provider.SHOPIFY: Scheme(
        signature="x-shopify-hmac-sha256",
        topic="x-shopify-topic",
        # The webhook id is the same on every retry of one delivery; the event id is shared by subscriptions.
        event_ids=("x-shopify-webhook-id", "x-shopify-event-id"),
        shop="x-shopify-shop-domain",
        secret_setting="SHOPIFY_WEBHOOK_SECRET",
        kept=(
            "x-shopify-topic", "x-shopify-webhook-id", "x-shopify-event-id", "x-shopify-shop-domain",
            "x-shopify-api-version", "x-shopify-triggered-at", "x-shopify-hmac-sha256",
        ),
    ),
    Provider.WOOCOMMERCE: Scheme(
        signature="x-wc-webhook-signature",
        topic="x-wc-webhook-topic",
        event_ids=("x-wc-webhook-delivery-id",),
        shop="x-wc-webhook-source",
        secret_setting="WOOCOMMERCE_WEBHOOK_SECRET",
        kept=(
            "x-wc-webhook-topic", "x-wc-webhook-delivery-id", "x-wc-webhook-source", "x-wc-webhook-resource",
            "x-wc-webhook-event", "x-wc-webhook-id", "x-wc-webhook-signature",
        ),
    ),
    Provider.TYPEFORM: Scheme(
        signature="typeform-signature",
        topic="",
        event_ids=(),
        shop="",
        secret_setting="TYPEFORM_WEBHOOK_SECRET",
        kept=("typeform-signature",),
        verify=typeform_signature_is_valid,
        # Typeform's event id is the same on every retry of one delivery.
        body_topic=("event_type",),
        body_event_id=("event_id",),
    ),
    Provider.SURVEYS: Scheme(
        signature="webhook-signature",
        topic="",
        # Standard Webhooks: the message id is the same on every retry (and signed with the body).
        event_ids=("webhook-id",),
        shop="",
        secret_setting="SURVEY_WEBHOOK_SECRET",
        kept=("webhook-id", "webhook-timestamp", "webhook-signature"),
        verify=standard_webhook_is_valid,
        secret_problem=standard_webhook_secret_problem,
        # The scheme's payload names its type `type`; Delighted's names it `event_type`.
        body_topic=("type", "event_type"),
    ),
}
