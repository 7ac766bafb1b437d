"""What the webhook tests share: the real sample payloads, signed posts, and the secrets they are signed with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from webhooks.signatures import body_signature

SAMPLES = Path(__file__).parent / "samples"
SHOPIFY_SECRET = "shopify-test-secret"
WOOCOMMERCE_SECRET = "woocommerce-test-secret"


def sample(name: str) -> dict[str, Any]:
    """A sample payload; Shopify's are unwrapped (`{"order": {...}}` → `{...}`), as the webhook body is."""
    data = json.loads((SAMPLES / name).read_text())
    if len(data) == 1 and isinstance(next(iter(data.values())), dict):
        return next(iter(data.values()))
    return data


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode("utf-8")


def shopify_post(client: Client, body: bytes, *, topic: str, event_id: str, secret: str = SHOPIFY_SECRET,
                 signature: str | None = None, **extra: Any):
    """A signed Shopify-style delivery; `extra` goes to the test client (REMOTE_ADDR for the sender's address)."""
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": event_id,
        "X-Shopify-Shop-Domain": "atelier-test.myshopify.com",
        "X-Shopify-Api-Version": "2025-01",
        "X-Shopify-Hmac-Sha256": signature if signature is not None else body_signature(body, secret),
    }
    return client.post("/webhooks/shopify/", data=body, content_type="application/json", headers=headers, **extra)


def woocommerce_post(client: Client, body: bytes, *, topic: str, delivery_id: str):
    headers = {
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Delivery-ID": delivery_id,
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Signature": body_signature(body, WOOCOMMERCE_SECRET),
    }
    return client.post("/webhooks/woocommerce/", data=body, content_type="application/json", headers=headers)


@pytest.fixture(autouse=True)
def webhook_secrets(settings):
    settings.SHOPIFY_WEBHOOK_SECRET = SHOPIFY_SECRET
    settings.WOOCOMMERCE_WEBHOOK_SECRET = WOOCOMMERCE_SECRET
