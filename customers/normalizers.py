"""One way to clean an email or a phone number, shared by every entry point (services, imports, API, syncs)."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.errors import ApplicationError


def normalize_email(value: str | None, *, field: str = "email") -> str:
    """Strip and lower-case an email; blank stays blank; an invalid address is refused with the field named."""
    cleaned = (value or "").strip().lower()
    if not cleaned:
        return ""
    try:
        validate_email(cleaned)
    except ValidationError:
        raise ApplicationError.for_field(field, f"{value.strip()!r} is not a valid email address.") from None
    return cleaned


def default_phone_region(country: str | None = None) -> str:
    """The region local phone numbers are read in: the boutique's country, else DEFAULT_PHONE_REGION."""
    return (country or settings.DEFAULT_PHONE_REGION).upper()


def normalize_phone(value: str | None, *, region: str | None = None, field: str = "phone") -> str:
    """Turn a phone number typed in any common format into E.164 (+33612345678); blank stays blank.

    Local numbers are read in `region` (ISO country code). A number that cannot be parsed, or is not a
    possible and valid number, is refused with the field named.
    """
    raw = (value or "").strip()
    if not raw:
        return ""
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, default_phone_region(region))
    except phonenumbers.NumberParseException:
        raise ApplicationError.for_field(field, f"{raw!r} cannot be read as a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise ApplicationError.for_field(field, f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
