"""normalize_phone reads E.164 input without the general parser: it must answer exactly what the parser answers,
for every country's numbers, valid or not, and refuse what the parser refuses with the same words."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from core.errors import ApplicationError
from customers.normalizers import _canonical_number, default_phone_region, normalize_phone

REGIONS = (None, "FR", "US", "JP", "IT")


def parsed_the_general_way(value: str | None, *, region: str | None = None, field: str = "phone") -> str:
    """normalize_phone as it was before the E.164 path: every number through phonenumbers.parse."""
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


def answer(normalize, value: str, region: str | None) -> tuple:
    try:
        return ("phone", normalize(value, region=region))
    except ApplicationError as error:
        return ("refused", error.message, error.extra)


def example_numbers() -> list[str]:
    """Every example number phonenumbers holds (each region's number types, the non-geographic codes) in E.164."""
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):  # PhoneNumberType: FIXED_LINE (0) … VOICEMAIL (10), UNKNOWN (99) has none
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        invalid = phonenumbers.invalid_example_number(region)
        if invalid is not None:
            numbers.append(phonenumbers.format_number(invalid, phonenumbers.PhoneNumberFormat.E164))
    for country_code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(country_code)
        if number is not None:
            numbers.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return sorted(set(numbers))


def broken_versions(number: str) -> list[str]:
    """The same number as a till or a form breaks it: a digit short or too many, a digit changed, the trunk
    prefix written after the country code, a leading zero, an unknown country code."""
    digits = number[1:]
    country = next(len(str(code)) for code in (int(digits[:n]) for n in (1, 2, 3))
                   if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    last = str((int(digits[-1]) + 1) % 10)
    return [
        number[:-1], number + "5", number[:-1] + last, number[:-3],
        f"+{digits[:country]}0{digits[country:]}", f"+{digits[:country]}1{digits[country:]}",
        f"+{digits[:country]}00{digits[country:]}", f"+0{digits}", f"+999{digits[country:]}",
        f"+{digits[:country]}{digits}",
    ]


EXAMPLES = example_numbers()


def test_every_example_number_and_its_broken_versions_normalize_as_the_parser_reads_them():
    # Given every country's example numbers, valid and invalid, and each broken a handful of ways
    values = [variant for number in EXAMPLES for variant in (number, *broken_versions(number))]

    # When each is normalized in several boutique regions, by normalize_phone and by the general parser
    differences = [
        (value, region) for index, value in enumerate(values) for region in (REGIONS[index % len(REGIONS)],)
        if answer(normalize_phone, value, region) != answer(parsed_the_general_way, value, region)
    ]

    # Then the answers are the same, refusals and their words included
    assert len(values) > 5000
    assert differences == []


def test_the_e164_path_reads_the_same_phone_number_object_the_parser_does():
    values = [variant for number in EXAMPLES for variant in (number, *broken_versions(number))]
    read = {value: _canonical_number(value) for value in values}

    for value, number in read.items():
        if number is not None:
            for region in REGIONS:
                assert number == phonenumbers.parse(value, default_phone_region(region)), (value, region)
    # Most valid numbers take that path (else the test above would prove nothing about it)
    valid = [value for value in EXAMPLES if answer(parsed_the_general_way, value, None)[0] == "phone"]
    taken = [value for value in valid if read[value] is not None]
    assert len(taken) / len(valid) > 0.95


def test_random_digit_strings_of_every_e164_length_normalize_as_the_parser_reads_them():
    # Given 6,000 seeded random "+" and 7 to 16 digits (most are no one's number; a few are valid)
    rng = random.Random(13)
    values = ["+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(7, 16))) for _ in range(6000)]
    # ... and as many starting with a real country code
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    values += [f"+{rng.choice(codes)}" + "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 12)))
               for _ in range(6000)]

    differences = [
        (value, region) for index, value in enumerate(values) for region in (REGIONS[index % len(REGIONS)],)
        if answer(normalize_phone, value, region) != answer(parsed_the_general_way, value, region)
    ]

    assert differences == []
    assert sum(answer(normalize_phone, value, "FR")[0] == "phone" for value in values) > 100


@pytest.mark.parametrize(("value", "region", "expected"), [
    ("+33612345678", "FR", "+33612345678"),
    ("+33612345678", "US", "+33612345678"),
    ("+14155552671", None, "+14155552671"),
    ("+390612345678", "FR", "+390612345678"),  # Rome: the leading zero is part of the number in Italy
    ("+442079460000", "FR", "+442079460000"),
    ("+4402079460000", "FR", "+442079460000"),  # the UK trunk zero after the code: the parser strips it
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("0033 6 12 34 56 78", "US", "+33612345678"),
    (" +33612345678 ", "FR", "+33612345678"),
    ("", "FR", ""),
    (None, "FR", ""),
])
def test_phone_numbers_normalize_to_e164(value, region, expected):
    assert normalize_phone(value, region=region) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("+33123", "'+33123' is not a valid phone number."),
    ("+3361234567", "'+3361234567' is not a valid phone number."),
    ("+0612345678", "'+0612345678' cannot be read as a phone number."),
    ("+99912345678", "'+99912345678' cannot be read as a phone number."),
    ("+1234567890123456", "'+1234567890123456' is not a valid phone number."),
])
def test_numbers_the_parser_refuses_are_refused_with_the_field_named(value, message):
    with pytest.raises(ApplicationError) as refused:
        normalize_phone(value, region="FR", field="mobile")

    assert (refused.value.message, refused.value.fields) == (message, {"mobile": [message]})
