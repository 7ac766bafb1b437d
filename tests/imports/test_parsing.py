"""Reading the values of legacy files: dates, date-times, amounts, whole numbers, yes/no and currencies."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from imports.parsing import parse_bool, parse_currency_code, parse_date, parse_datetime, parse_decimal, parse_int

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def exactly(message: str) -> str:
    """pytest.raises(match=...) searches; the whole message must be this one."""
    return f"^{re.escape(message)}$"


# --- Dates ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2024-03-07", "dmy", dt.date(2024, 3, 7)),
        ("2024-03-07", "mdy", dt.date(2024, 3, 7)),
        ("2024-3-7", "ymd", dt.date(2024, 3, 7)),
        ("20240307", "ymd", dt.date(2024, 3, 7)),
        ("2024/03/07", "dmy", dt.date(2024, 3, 7)),
        ("07/03/2024", "dmy", dt.date(2024, 3, 7)),
        ("7.3.2024", "dmy", dt.date(2024, 3, 7)),
        ("07-03-24", "dmy", dt.date(2024, 3, 7)),
        ("07-03-69", "dmy", dt.date(2069, 3, 7)),
        ("07-03-70", "dmy", dt.date(1970, 3, 7)),
        ("31.12.99", "dmy", dt.date(1999, 12, 31)),
        ("01/01/00", "dmy", dt.date(2000, 1, 1)),
        ("07/03/2024", "mdy", dt.date(2024, 7, 3)),
        ("3/7/2024", "mdy", dt.date(2024, 3, 7)),
        ("12/31/84", "mdy", dt.date(1984, 12, 31)),
        ("29/02/2024", "dmy", dt.date(2024, 2, 29)),
        ("  07/03/2024  ", "dmy", dt.date(2024, 3, 7)),
        ("2024-03-07 00:00:00", "dmy", dt.date(2024, 3, 7)),
        ("07/03/2024 00:00", "dmy", dt.date(2024, 3, 7)),
        ("", "dmy", None),
        ("   ", "mdy", None),
        (None, "ymd", None),
    ],
)
def test_dates_are_read_in_iso_form_or_in_the_files_order(text, order, expected):
    assert parse_date(text, order=order) == expected


@pytest.mark.parametrize(
    ("text", "order", "message"),
    [
        ("31/02/2024", "dmy", "31/02/2024 is not a date (day 31 of month 2)."),
        ("29/02/2023", "dmy", "29/02/2023 is not a date (day 29 of month 2)."),
        ("02/31/2024", "mdy", "02/31/2024 is not a date (day 31 of month 2)."),
        ("2024-02-30", "ymd", "2024-02-30 is not a date (day 30 of month 2)."),
        ("13/13/2024", "dmy", "13/13/2024 is not a date (month 13)."),
        (
            "03/25/2024",
            "dmy",
            "03/25/2024 is not a date (month 25; if the file puts the month first, set date_order to mdy).",
        ),
        (
            "25/03/2024",
            "mdy",
            "25/03/2024 is not a date (month 25; if the file puts the day first, set date_order to dmy).",
        ),
        (
            "07/03/2024",
            "ymd",
            "07/03/2024 is not a year-month-day date; if the file puts the day or the month first, "
            "set date_order to dmy or mdy in the column mapping.",
        ),
        ("7/3/124", "dmy", "7/3/124 is not a date (the year 124 has neither 2 nor 4 digits)."),
        ("07/03-2024", "dmy", "07/03-2024 is not a date (expected day/month/year, e.g. 31/12/2024)."),
        ("March 7", "mdy", "March 7 is not a date (expected month/day/year, e.g. 12/31/2024)."),
        ("yesterday", "ymd", "yesterday is not a date (expected year-month-day, e.g. 2024-12-31)."),
        ("0000-01-01", "ymd", "0000-01-01 is not a date (year 0)."),
        ("2024-03-07 14:05", "ymd", "2024-03-07 14:05 has a time of day; a date is expected here."),
        ("07/03/2024", "ydm", "'ydm' is not a date order (ymd, dmy or mdy)."),
    ],
)
def test_impossible_or_unreadable_dates_are_refused_with_a_reason(text, order, message):
    with pytest.raises(ValueError, match=exactly(message)):
        parse_date(text, order=order)


# --- Date-times -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "order", "tz", "expected"),
    [
        ("2024-03-07", "ymd", PARIS, dt.datetime(2024, 3, 7, tzinfo=PARIS)),
        ("07/03/2024", "dmy", PARIS, dt.datetime(2024, 3, 7, tzinfo=PARIS)),
        ("2024-03-07 14:05", "ymd", PARIS, dt.datetime(2024, 3, 7, 14, 5, tzinfo=PARIS)),
        ("2024-03-07T14:05:09", "dmy", PARIS, dt.datetime(2024, 3, 7, 14, 5, 9, tzinfo=PARIS)),
        ("2024-03-07T14:05:09.5", "dmy", PARIS, dt.datetime(2024, 3, 7, 14, 5, 9, 500000, tzinfo=PARIS)),
        ("07/03/2024 14h05", "dmy", PARIS, dt.datetime(2024, 3, 7, 14, 5, tzinfo=PARIS)),
        ("7.3.2024 9:30", "dmy", PARIS, dt.datetime(2024, 3, 7, 9, 30, tzinfo=PARIS)),
        ("3/7/2024 2:05 PM", "mdy", NEW_YORK, dt.datetime(2024, 3, 7, 14, 5, tzinfo=NEW_YORK)),
        ("3/7/2024 12:15 am", "mdy", NEW_YORK, dt.datetime(2024, 3, 7, 0, 15, tzinfo=NEW_YORK)),
        ("3/7/2024 12:15 p.m.", "mdy", NEW_YORK, dt.datetime(2024, 3, 7, 12, 15, tzinfo=NEW_YORK)),
        (
            "2023-11-02T10:15:00+01:00",
            "ymd",
            NEW_YORK,
            dt.datetime(2023, 11, 2, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        ),
        (
            "2024-02-29T23:59:59-0530",
            "ymd",
            PARIS,
            dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
        ),
        ("2022-05-17T08:00:00Z", "ymd", PARIS, dt.datetime(2022, 5, 17, 8, tzinfo=dt.UTC)),
        ("", "ymd", PARIS, None),
    ],
)
def test_date_times_are_local_to_the_zone_unless_they_carry_an_offset(text, order, tz, expected):
    parsed = parse_datetime(text, order=order, tz=tz)

    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo == expected.tzinfo


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("07/03/2024 25:00", "07/03/2024 25:00 is not a time (hour 25)."),
        ("07/03/2024 14:60", "07/03/2024 14:60 is not a time (minute 60)."),
        ("07/03/2024 13:00 PM", "07/03/2024 13:00 PM is not a time (hour 13 with AM/PM)."),
        ("31/02/2024 10:00", "31/02/2024 10:00 is not a date (day 31 of month 2)."),
        ("07/03/2024 at noon", "07/03/2024 at noon is not a date and time (expected e.g. 31/12/2024 14:05)."),
    ],
)
def test_impossible_times_are_refused_with_a_reason(text, message):
    with pytest.raises(ValueError, match=exactly(message)):
        parse_datetime(text, order="dmy", tz=PARIS)


# --- Amounts ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal_comma", "expected"),
    [
        ("1 234,56 €", None, Decimal("1234.56")),
        ("1\xa0234,56\xa0€", None, Decimal("1234.56")),
        ("1\u202f234,56 €", None, Decimal("1234.56")),
        ("€1,234.56", None, Decimal("1234.56")),
        ("1.234,56", None, Decimal("1234.56")),
        ("1,234.56", None, Decimal("1234.56")),
        ("1.234.567,89", None, Decimal("1234567.89")),
        ("1,234,567", None, Decimal("1234567")),
        ("EUR 1234.56", None, Decimal("1234.56")),
        ("1234.56 eur", None, Decimal("1234.56")),
        ("CHF 1'234.50", None, Decimal("1234.50")),
        ("1’234.50 CHF", None, Decimal("1234.50")),
        ("Fr. 12.50", None, Decimal("12.50")),
        ("US$ 12.50", None, Decimal("12.50")),
        ("£12", None, Decimal("12")),
        ("-12,00", None, Decimal("-12.00")),
        ("\u221212,5", None, Decimal("-12.5")),
        ("-€12", None, Decimal("-12")),
        ("€ -12", None, Decimal("-12")),
        ("12.00-", None, Decimal("-12.00")),
        ("(12.00)", None, Decimal("-12.00")),
        ("(1 234,56 €)", None, Decimal("-1234.56")),
        ("+3", None, Decimal("3")),
        ("12,5", None, Decimal("12.5")),
        ("12,50", None, Decimal("12.50")),
        ("0,500", None, Decimal("0.500")),
        ("1234,567", None, Decimal("1234.567")),
        ("1 234,567", None, Decimal("1234.567")),
        (".5", None, Decimal("0.5")),
        ("1 234", None, Decimal("1234")),
        ("0", None, Decimal("0")),
        ("1.234", True, Decimal("1234")),
        ("1.234,56", True, Decimal("1234.56")),
        ("12,50 €", True, Decimal("12.50")),
        ("1,234", False, Decimal("1234")),
        ("1,234.56", False, Decimal("1234.56")),
        ("", None, None),
        ("  ", True, None),
        (None, None, None),
    ],
)
def test_amounts_are_read_with_their_grouping_decimal_mark_currency_and_sign(text, decimal_comma, expected):
    parsed = parse_decimal(text, decimal_comma=decimal_comma)

    assert parsed == expected
    assert str(parsed) == str(expected)  # the places as written: 12.50 stays 12.50


@pytest.mark.parametrize(
    ("text", "decimal_comma", "message"),
    [
        ("12,34,56", None, "12,34,56 is not a number (its digits are not grouped by threes)."),
        ("12 34", None, "12 34 is not a number (its digits are not grouped by threes)."),
        ("abc", None, "abc is not a number."),
        ("12 abc", None, "12 abc is not a number."),
        ("XYZ 12", None, "XYZ 12 is not a number."),
        ("1.5E3", None, "1.5E3 is not a number."),
        ("12.", None, "12. is not a number."),
        ("(12", None, "(12 is not a number."),
        ("EUR 12 €", None, "EUR 12 € is not a number (it names a currency twice)."),
        ("--12", None, "--12 is not a number (it has more than one sign)."),
        ("(-12)", None, "(-12) is not a number (it has more than one sign)."),
        ("1.234 567", None, "1.234 567 is not a number (it groups digits in two ways)."),
        (
            "1,234",
            None,
            "1,234 could be 1234 or 1.234; say in the column mapping whether the file uses a decimal comma "
            "(decimal_comma: true or false).",
        ),
        (
            "1.500",
            None,
            "1.500 could be 1500 or 1.500; say in the column mapping whether the file uses a decimal comma "
            "(decimal_comma: true or false).",
        ),
        ("12.50", True, "12.50 is not a number with a decimal comma, as the column mapping says this file has."),
        ("1,234.56", True, "1,234.56 is not a number with a decimal comma, as the column mapping says this file has."),
        ("12,5", False, "12,5 is not a number with a decimal point, as the column mapping says this file has."),
        ("1.234,56", False, "1.234,56 is not a number with a decimal point, as the column mapping says this file has."),
    ],
)
def test_unreadable_amounts_are_refused_with_a_reason(text, decimal_comma, message):
    with pytest.raises(ValueError, match=exactly(message)):
        parse_decimal(text, decimal_comma=decimal_comma)


# --- Whole numbers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3", 3), ("3.0", 3), ("3,00", 3), ("-1", -1), ("\u22122", -2), ("+4", 4), (" 12 ", 12), ("0", 0), ("", None)],
)
def test_whole_numbers_are_read_also_when_written_with_zero_decimals(text, expected):
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3.5", "3.5 is not a whole number."),
        ("abc", "abc is not a whole number."),
        ("1 000", "1 000 is not a whole number."),
        ("1,000", "1,000 could be 1000 or 1; write it without a separator."),
    ],
)
def test_fractions_and_words_are_refused_as_whole_numbers(text, message):
    with pytest.raises(ValueError, match=exactly(message)):
        parse_int(text)


# --- Yes or no --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True), ("No", False), ("Y", True), ("n", False), ("TRUE", True), ("false", False), ("t", True),
        ("f", False), ("1", True), ("0", False), ("x", True), ("X", True), ("oui", True), ("Non", False),
        ("ja", True), ("NEIN", False), ("sí", True), ("Sí", True), ("si", True), ("granted", True),
        ("Withdrawn", False), ("opt-in", True), ("Opt-Out", False), ("opt in", True), ("OPT_OUT", False),
        ("optin", True), (" oui ", True), ("", None), (None, None),
    ],
)  # fmt: skip
def test_yes_and_no_are_read_in_the_words_legacy_files_use(text, expected):
    assert parse_bool(text) is expected


@pytest.mark.parametrize("text", ["maybe", "2", "-", "oui/non"])
def test_anything_else_is_refused_listing_what_is_accepted(text):
    message = (
        f"{text} is not a yes or no; accepted: yes/no, y/n, true/false, t/f, 1/0, x or blank, oui/non, ja/nein, "
        "sí/no, granted/withdrawn, opt-in/opt-out."
    )

    with pytest.raises(ValueError, match=exactly(message)):
        parse_bool(text)


# --- Currencies -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EUR", "EUR"), ("eur", "EUR"), (" chf ", "CHF"), ("€", "EUR"), ("£", "GBP"), ("US$", "USD"),
        ("us $", "USD"), ("HK$", "HKD"), ("Fr.", "CHF"), ("JP¥", "JPY"), ("RMB", "CNY"), ("", None), (None, None),
    ],
)  # fmt: skip
def test_currency_codes_are_read_from_codes_and_unambiguous_symbols(text, expected):
    assert parse_currency_code(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$", "$ could be USD, CAD, AUD, HKD, SGD …; give its ISO code instead."),
        ("¥", "¥ could be JPY or CNY; give its ISO code instead."),
        ("kr", "kr could be SEK, NOK, DKK or ISK; give its ISO code instead."),
        ("EURO", "EURO is not a currency code (ISO 4217, e.g. EUR, USD, CHF)."),
        ("XYZ", "XYZ is not a currency code (ISO 4217, e.g. EUR, USD, CHF)."),
    ],
)
def test_unknown_or_ambiguous_currencies_are_refused(text, message):
    with pytest.raises(ValueError, match=exactly(message)):
        parse_currency_code(text)
