"""SMS adapters: a console one for the demo and one real HTTP one for a Twilio-style API.

Configured by environment (config/settings/base.py): SMS_BACKEND (console or twilio), SMS_API_URL,
SMS_ACCOUNT_SID, SMS_AUTH_TOKEN, SMS_FROM, SMS_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import sys
from collections.abc import Iterable
from typing import Protocol

import httpx
from django.conf import settings

from journeys.channels import PermanentSendError, RecipientOptedOutError, TransientSendError

logger = logging.getLogger(__name__)

# Twilio's answer to a message for a number that replied STOP ("Attempt to send to unsubscribed recipient").
TWILIO_UNSUBSCRIBED_RECIPIENT = 21610


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        """Hand one message to the provider and return the provider's message id. The same idempotency key
        twice must give the same message, not a second one."""


class ConsoleSmsBackend:
    """The demo's SMS: written to standard output, as Django's console email backend does for email."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        message_id = "console-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        sys.stdout.write(f"SMS {message_id} to {to}:\n{body}\n{'-' * 40}\n")
        sys.stdout.flush()
        return message_id


class TwilioSmsBackend:
    """Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded, basic auth), with an
    Idempotency-Key header so that a message resent after a lost answer is the same message at the provider."""

    def __init__(self, *, api_url: str, account_sid: str, auth_token: str, sender: str, timeout: float) -> None:
        self.url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender
        self.timeout = timeout

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        try:
            response = httpx.post(
                self.url, data={"To": to, "From": self.sender, "Body": body}, auth=self.auth,
                headers={"Idempotency-Key": idempotency_key}, timeout=self.timeout,
            )
        except httpx.TransportError as error:
            # Timeouts included: the provider may have accepted it, and the idempotency key makes a resend safe.
            raise TransientSendError(f"SMS provider unreachable: {type(error).__name__}") from error
        if response.status_code in (200, 201):
            try:
                return str(response.json()["sid"])
            except (ValueError, KeyError, TypeError) as error:
                raise TransientSendError("The SMS provider accepted the message without a message id") from error
        reason = f"SMS provider answered {response.status_code}: {_provider_message(response)}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSendError(reason)
        if _provider_code(response) == TWILIO_UNSUBSCRIBED_RECIPIENT:
            raise RecipientOptedOutError(reason)
        raise PermanentSendError(reason)


def _provider_code(response: httpx.Response) -> int | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _provider_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
        return str(payload.get("message") or payload)[:160]
    except ValueError:
        return response.text[:160] or response.reason_phrase


def sms_backend() -> SmsBackend:
    """The adapter the settings name (read on each call, so a changed setting takes effect)."""
    if settings.SMS_BACKEND == "twilio":
        return TwilioSmsBackend(
            api_url=settings.SMS_API_URL, account_sid=settings.SMS_ACCOUNT_SID, auth_token=settings.SMS_AUTH_TOKEN,
            sender=settings.SMS_FROM, timeout=settings.SMS_TIMEOUT_SECONDS,
        )
    return ConsoleSmsBackend()


def twilio_signature(*, url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The X-Twilio-Signature of a request Twilio makes: base64 of HMAC-SHA1, keyed with the auth token, over the
    full URL followed by each POST parameter's name and value, sorted by name."""
    payload = url + "".join(f"{name}{value}" for name, value in sorted(params, key=lambda item: item[0]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_is_valid(*, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    """Whether an inbound request is signed with SMS_AUTH_TOKEN. Without a token nothing is valid."""
    if not settings.SMS_AUTH_TOKEN or not signature:
        return False
    expected = twilio_signature(url=url, params=params, auth_token=settings.SMS_AUTH_TOKEN)
    return hmac.compare_digest(expected.encode(), signature.encode())
