"""One way to clean an email or a phone number, shared by every entry point (services, imports, API, syncs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.errors import ApplicationError

PREFERENCE_KEYS = ("sizes", "categories", "styles")


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


def normalize_country(value: str | None, *, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code in capitals (fr → FR); blank stays blank; anything else is refused."""
    country = (value or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise ApplicationError.for_field(field, f"{country!r} is not a two-letter country code.")
    return country


def normalize_preferences(preferences: Mapping[str, Any]) -> dict[str, list[str]]:
    """Preferences are lists of short strings under known keys; anything else is refused."""
    if not isinstance(preferences, Mapping):
        raise ApplicationError.for_field("preferences", "Preferences must be an object of lists.")
    unknown = set(preferences) - set(PREFERENCE_KEYS)
    if unknown:
        raise ApplicationError.for_field(
            "preferences", f"Unknown preference keys: {', '.join(sorted(unknown))}. Use {', '.join(PREFERENCE_KEYS)}."
        )
    cleaned: dict[str, list[str]] = {}
    for key, values in preferences.items():
        if isinstance(values, str):
            values = [part for part in (piece.strip() for piece in values.split(",")) if part]
        if not isinstance(values, list | tuple) or not all(isinstance(value, str) for value in values):
            raise ApplicationError.for_field("preferences", f"Preferences under {key!r} must be a list of text.")
        cleaned[key] = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    return cleaned
