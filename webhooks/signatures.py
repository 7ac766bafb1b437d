"""The signatures on a webhook. The ecommerce platforms: base64 of HMAC-SHA256 over the raw body with the shared
secret. Typeform: the same, written `sha256=<base64>`. The generic survey endpoint: the Standard Webhooks scheme
(HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, a timestamp within five minutes, several signatures
for key rotation), verified by the scheme's own library rather than a copy of it."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

TYPEFORM_PREFIX = "sha256="


def body_signature(body: bytes, secret: str) -> str:
    """The header value a platform sends for this body and secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_is_valid(body: bytes, secret: str, header: str | None) -> bool:
    """Whether `header` signs `body` with `secret`, compared in constant time. No secret or no header: invalid."""
    if not secret or not header:
        return False
    return hmac.compare_digest(body_signature(body, secret).encode("ascii"), header.strip().encode("ascii", "replace"))


def typeform_signature(body: bytes, secret: str) -> str:
    """The Typeform-Signature header Typeform sends for this body and secret."""
    return TYPEFORM_PREFIX + body_signature(body, secret)


def typeform_signature_is_valid(body: bytes, secret: str, headers: Mapping[str, str]) -> bool:
    """Whether the (lower-cased) headers' Typeform-Signature signs `body` with `secret`."""
    header = (headers.get("typeform-signature") or "").strip()
    if not header.startswith(TYPEFORM_PREFIX):
        return False
    return signature_is_valid(body, secret, header[len(TYPEFORM_PREFIX):])


def standard_webhook_secret_problem(secret: str) -> str:
    """Why `secret` is no Standard Webhooks secret (`whsec_` and base64), or "" when it is one."""
    try:
        Webhook(secret)
    except EmptyWebhookSecretError:
        return "is empty once decoded (whsec_ followed by base64)"
    except (binascii.Error, ValueError, RuntimeError):
        return "is not a Standard Webhooks secret (whsec_ followed by base64)"
    return ""


def standard_webhook_is_valid(body: bytes, secret: str, headers: Mapping[str, str]) -> bool:
    """Whether the webhook-id, webhook-timestamp and webhook-signature headers sign `body` with `secret`, with a
    timestamp within the scheme's five minutes (a captured delivery cannot be sent again later)."""
    if standard_webhook_secret_problem(secret):
        return False
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError:
        return False
    return True


def standard_webhook_headers(body: bytes, secret: str, *, message_id: str, timestamp: int) -> dict[str, str]:
    """The headers a Standard Webhooks sender puts on `body` (for the tests and a house's own tools)."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }
