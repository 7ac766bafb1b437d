"""The signature both platforms put on a webhook: base64 of HMAC-SHA256 over the raw body with the shared secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def body_signature(body: bytes, secret: str) -> str:
    """The header value a platform sends for this body and secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_is_valid(body: bytes, secret: str, header: str | None) -> bool:
    """Whether `header` signs `body` with `secret`, compared in constant time. No secret or no header: invalid."""
    if not secret or not header:
        return False
    return hmac.compare_digest(body_signature(body, secret).encode("ascii"), header.strip().encode("ascii", "replace"))
