"""One way to clean an email or a phone number, shared by every entry point (services, imports, API, syncs)."""

from __future__ import annotations

import re
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
    # Most numbers arrive as E.164 already (syncs, webhooks, the house's own exports): read without the general
    # parser, to the same PhoneNumber, and validated the same way.
    number = _canonical_number(raw)
    if number is None:
        try:
            number = phonenumbers.parse(raw, default_phone_region(region))
        except phonenumbers.NumberParseException:
            raise ApplicationError.for_field(field, f"{raw!r} cannot be read as a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise ApplicationError.for_field(field, f"{raw!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# "+", then 8 to 15 ASCII digits, the first not 0: E.164's written form.
_CANONICAL = re.compile(r"\+[1-9][0-9]{7,14}")


def _canonical_number(raw: str) -> phonenumbers.PhoneNumber | None:
    """The PhoneNumber phonenumbers.parse(raw, region) gives for `raw` in E.164's written form, or None (then the
    caller parses it): None for any other input, and wherever the parser would do more than split the country code.

    Why it is the same number (phonenumbers 9.0's parse, step by step, for "+" then digits): nothing is extracted,
    no extension, no phone-context; the "+" is stripped and the country code is the first one to three digits
    in COUNTRY_CODE_TO_REGION_CODE (the region given plays no part; a number starting with 0, or no known code,
    is left to the parser, which then tries the region's own prefixes); the rest is the national number, unless
    the country's national prefix for parsing matches its start (then the parser may strip it: left to it too);
    its leading zeros are kept the same way. tests/customers/test_normalizers.py holds both paths equal over every
    country's example numbers and broken ones, so a version of phonenumbers that reads them otherwise fails there.
    """
    if not _CANONICAL.fullmatch(raw):
        return None
    digits = raw[1:]
    for length in (1, 2, 3):
        country_code = int(digits[:length])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[length:]
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code))
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.compile(prefix).match(national):
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    if national[0] == "0":
        number.italian_leading_zero = True
        zeros = len(national) - len(national.lstrip("0"))
        # As the parser counts them: the last digit is never a leading zero.
        zeros = min(zeros, len(national) - 1)
        if zeros != 1:
            number.number_of_leading_zeros = zeros
    return number


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
