"""Reading the values of legacy files: dates, amounts, counts, yes/no and currencies as people type them.

Every function takes the cell's text, returns None for a blank cell, and raises ValueError with a message a person
understands; the import pipeline adds the line and the column.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

DATE_ORDER_NAMES = {"ymd": "year-month-day", "dmy": "day/month/year", "mdy": "month/day/year"}
DATE_EXAMPLES = {"ymd": "2024-12-31", "dmy": "31/12/2024", "mdy": "12/31/2024"}

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE = re.compile(r"(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})")
_DATETIME = re.compile(
    r"(?P<date>[^\sT]+)"
    r"(?:(?:T|\s+)(?P<hour>\d{1,2})[:h.](?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,6})\d*)?)?"
    r"\s*(?P<meridiem>[AaPp]\.?[Mm]\.?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?)?",
)

# Signs: the ASCII ones and the Unicode minus some spreadsheets write.
_SIGNS = r"+\-\u2212"  # a character class: the hyphen escaped
_SYMBOLS = "$€£¥₣₹₽₩₺₪฿₫₱₦₴"
_CURRENCY = rf"[A-Za-z]{{3}}|S?Fr\.|[A-Za-z]{{0,2}}[{_SYMBOLS}]"
_AMOUNT = re.compile(
    rf"(?P<open>\()?\s*(?P<sign>[{_SIGNS}])?\s*(?P<before>{_CURRENCY})?\s*(?P<sign_after_currency>[{_SIGNS}])?\s*"
    r"(?P<number>\d(?:[\d.,'’\s]*\d)?|[.,]\d+)"
    rf"\s*(?P<after>{_CURRENCY})?\s*(?P<trailing_sign>-)?\s*(?P<close>\))?",
)
_NUMBER_PARTS = re.compile(r"\d+|\D")

_INTEGER = re.compile(r"([-+\u2212]?)(\d+)(?:[.,](0+))?")

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "x", "oui", "ja", "sí", "si", "granted", "opt-in", "optin"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "non", "nein", "withdrawn", "opt-out", "optout"})
BOOL_ACCEPTED = (
    "yes/no, y/n, true/false, t/f, 1/0, x or blank, oui/non, ja/nein, sí/no, granted/withdrawn, opt-in/opt-out"
)

# ISO 4217 codes in use, and a few recently replaced that legacy files still hold (HRK, SLL, VEF).
_CURRENCY_CODES_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VED VEF VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
CURRENCY_CODES = frozenset(_CURRENCY_CODES_TEXT.split())
CURRENCY_SYMBOLS = {
    "€": "EUR",
    "£": "GBP",
    "US$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "HK$": "HKD",
    "S$": "SGD",
    "SG$": "SGD",
    "NZ$": "NZD",
    "R$": "BRL",
    "FR.": "CHF",
    "SFR.": "CHF",
    "JP¥": "JPY",
    "CN¥": "CNY",
    "RMB": "CNY",
    "₹": "INR",
    "₩": "KRW",
    "₽": "RUB",
    "₺": "TRY",
    "₪": "ILS",
    "฿": "THB",
}
# Symbols several currencies share: guessing would book amounts in the wrong money.
AMBIGUOUS_SYMBOLS = {"$": "USD, CAD, AUD, HKD, SGD …", "¥": "JPY or CNY", "KR": "SEK, NOK, DKK or ISK"}


def parse_date(text: str | None, *, order: str) -> dt.date | None:
    """A date typed in ISO form or, per `order` (ymd, dmy, mdy), as 07/03/2024, 7.3.2024 or 07-03-24.

    Two-digit years 00-69 are read in the 2000s, 70-99 in the 1900s. A time of midnight, as spreadsheets add,
    is allowed; any other time is refused, since it means a date-and-time column was mapped onto a date.
    """
    value = (text or "").strip()
    if not value:
        return None
    match = _DATETIME.fullmatch(value)
    if match and match["hour"] is not None:
        if any(int(part or 0) for part in match.group("hour", "minute", "second")):
            raise ValueError(f"{value} has a time of day; a date is expected here.")
        return _date(match["date"], order=order, shown=value)
    return _date(value, order=order, shown=value)


def parse_datetime(text: str | None, *, order: str, tz: ZoneInfo) -> dt.datetime | None:
    """A date and time, as "2024-03-07 14:05", "07/03/2024 14h05", "3/7/2024 2:05 PM" or ISO with an offset.

    A value without an offset is local time in `tz`; a date alone is midnight in `tz`; an offset given is kept.
    """
    value = (text or "").strip()
    if not value:
        return None
    match = _DATETIME.fullmatch(value)
    if not match:
        raise ValueError(f"{value} is not a date and time (expected e.g. {DATE_EXAMPLES[order]} 14:05).")
    day = _date(match["date"], order=order, shown=value)
    if match["hour"] is None:
        return dt.datetime.combine(day, dt.time(), tzinfo=tz)
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    microsecond = int((match["fraction"] or "0").ljust(6, "0"))
    if match["meridiem"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"{value} is not a time (hour {hour} with AM/PM).")
        hour = hour % 12 + (12 if match["meridiem"][0] in "Pp" else 0)
    for unit, number, highest in (("hour", hour, 23), ("minute", minute, 59), ("second", second, 59)):
        if number > highest:
            raise ValueError(f"{value} is not a time ({unit} {number}).")
    zone: dt.tzinfo = tz
    if match["offset"]:
        zone = dt.UTC if match["offset"] == "Z" else _offset(match["offset"])
    return dt.datetime.combine(day, dt.time(hour, minute, second, microsecond), tzinfo=zone)


def parse_decimal(text: str | None, *, decimal_comma: bool | None = None) -> Decimal | None:
    """An amount as people and spreadsheets write it: "1 234,56 €", "€1,234.56", "CHF 1'234.50", "(12.00)".

    Spaces (also non-breaking and narrow ones) and apostrophes group thousands. With `decimal_comma` None, the
    value decides: the last of "," and "." is the decimal mark when both appear, a mark repeated groups thousands,
    and a single mark followed by three digits ("1,234") is refused as ambiguous.
    """
    value = (text or "").strip()
    if not value:
        return None
    match = _AMOUNT.fullmatch(value)
    if not match or bool(match["open"]) != bool(match["close"]):
        raise ValueError(f"{value} is not a number.")
    if match["before"] and match["after"]:
        raise ValueError(f"{value} is not a number (it names a currency twice).")
    currency = match["before"] or match["after"]
    if currency and currency.isalpha() and currency.upper() not in CURRENCY_CODES:
        raise ValueError(f"{value} is not a number.")
    signs = [sign for sign in match.group("sign", "sign_after_currency", "trailing_sign") if sign]
    if len(signs) + bool(match["open"]) > 1:
        raise ValueError(f"{value} is not a number (it has more than one sign).")
    is_negative = bool(match["open"]) or (bool(signs) and signs[0] != "+")
    digits = _plain_number(match["number"], decimal_comma=decimal_comma, shown=value)
    return Decimal(("-" if is_negative else "") + digits)


def parse_int(text: str | None) -> int | None:
    """A whole number: "3", "-1", and "3.0" or "3,00" as spreadsheets write them; "3.5" is refused."""
    value = (text or "").strip()
    if not value:
        return None
    match = _INTEGER.fullmatch(value)
    if not match:
        raise ValueError(f"{value} is not a whole number.")
    if match[3] and len(match[3]) == 3 and len(match[2]) <= 3 and not match[2].startswith("0"):
        # "1,000" or "1.000" groups thousands in one country and writes 1.0 in another.
        raise ValueError(f"{value} could be {match[2]}000 or {match[2]}; write it without a separator.")
    number = int(match[2])
    return -number if match[1] in ("-", "\u2212") else number


def parse_bool(text: str | None) -> bool | None:
    """Yes or no in the words legacy files use (yes/no, oui/non, x, 1/0, opt-in/opt-out …); blank is None."""
    value = (text or "").strip()
    if not value:
        return None
    word = "-".join(value.casefold().replace("_", " ").split())
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{value} is not a yes or no; accepted: {BOOL_ACCEPTED}.")


def parse_currency_code(text: str | None) -> str | None:
    """An ISO 4217 code in capitals ("eur" → "EUR"), also from an unambiguous symbol ("€", "£", "US$", "CHF")."""
    value = (text or "").strip()
    if not value:
        return None
    token = "".join(value.split()).upper()
    if token in CURRENCY_SYMBOLS:
        return CURRENCY_SYMBOLS[token]
    if token in AMBIGUOUS_SYMBOLS:
        raise ValueError(f"{value} could be {AMBIGUOUS_SYMBOLS[token]}; give its ISO code instead.")
    if token in CURRENCY_CODES:
        return token
    raise ValueError(f"{value} is not a currency code (ISO 4217, e.g. EUR, USD, CHF).")


def _date(value: str, *, order: str, shown: str) -> dt.date:
    if order not in DATE_ORDER_NAMES:
        raise ValueError(f"{order!r} is not a date order (ymd, dmy or mdy).")
    if match := _ISO_DATE.fullmatch(value) or _COMPACT_DATE.fullmatch(value):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DATE.fullmatch(value):
        first, _, second, third = match.groups()
        if len(first) == 4:
            year, month, day = int(first), int(second), int(third)
        elif order == "ymd":
            raise ValueError(
                f"{shown} is not a year-month-day date; if the file puts the day or the month first, "
                "set date_order to dmy or mdy in the column mapping."
            )
        elif len(third) not in (2, 4):
            raise ValueError(f"{shown} is not a date (the year {third} has neither 2 nor 4 digits).")
        else:
            day, month = (int(first), int(second)) if order == "dmy" else (int(second), int(first))
            year = int(third) if len(third) == 4 else _century(int(third))
    else:
        raise ValueError(f"{shown} is not a date (expected {DATE_ORDER_NAMES[order]}, e.g. {DATE_EXAMPLES[order]}).")
    if year < 1:
        raise ValueError(f"{shown} is not a date (year {year}).")
    if not 1 <= month <= 12:
        hint = ""
        if order in ("dmy", "mdy") and 1 <= day <= 12 and 1 <= month <= calendar.monthrange(year, day)[1]:
            other = "mdy" if order == "dmy" else "dmy"
            hint = f"; if the file puts the {'month' if other == 'mdy' else 'day'} first, set date_order to {other}"
        raise ValueError(f"{shown} is not a date (month {month}{hint}).")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError(f"{shown} is not a date (day {day} of month {month}).")
    return dt.date(year, month, day)


def _century(two_digits: int) -> int:
    # The usual pivot (as in POSIX strptime): 00-69 are this century, 70-99 the last.
    return 2000 + two_digits if two_digits < 70 else 1900 + two_digits


def _offset(text: str) -> dt.timezone:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _plain_number(number: str, *, decimal_comma: bool | None, shown: str) -> str:
    """The digits of a number with its grouping removed and "." as decimal mark, or ValueError."""
    parts = _NUMBER_PARTS.findall("0" + number if number[0] in ".," else number)
    runs, separators = parts[::2], parts[1::2]
    # Any whitespace groups thousands (space, non-breaking, narrow, thin); so do both apostrophes (Swiss).
    separators = [" " if separator.isspace() else "'" if separator in "'’" else separator for separator in separators]
    if not all(run.isdigit() for run in runs):
        raise ValueError(f"{shown} is not a number.")
    mark = _decimal_mark(runs, separators, decimal_comma=decimal_comma, shown=shown)
    if mark is not None:
        runs, fraction, separators = runs[:-1], runs[-1], separators[:-1]
    if len(set(separators)) > 1:
        raise ValueError(f"{shown} is not a number (it groups digits in two ways).")
    if separators and (not 1 <= len(runs[0]) <= 3 or any(len(run) != 3 for run in runs[1:])):
        if decimal_comma is not None and mark is None and len(separators) == 1:
            raise _not_the_file_mark(shown, decimal_comma=decimal_comma)
        raise ValueError(f"{shown} is not a number (its digits are not grouped by threes).")
    integer = "".join(runs) or "0"
    return f"{integer}.{fraction}" if mark is not None else integer


def _decimal_mark(runs: list[str], separators: list[str], *, decimal_comma: bool | None, shown: str) -> str | None:
    """Which separator, if any, is the decimal mark; it can only be the last one."""
    if not separators:
        return None
    last = separators[-1]
    if decimal_comma is not None:
        mark = "," if decimal_comma else "."
        if separators.count(mark) > 1 or (mark in separators and last != mark):
            raise _not_the_file_mark(shown, decimal_comma=decimal_comma)
        return mark if last == mark else None
    if last not in ".," or separators.count(last) > 1:
        return None
    if any(separator in ".," for separator in separators[:-1]) or " " in separators or "'" in separators:
        # Both marks ("1.234,56"), or thousands grouped by spaces ("1 234,567"): the last mark is the decimal one.
        return last
    if len(runs[-1]) == 3 and 1 <= len(runs[0]) <= 3 and not runs[0].startswith("0"):
        grouped, decimal = "".join(runs), f"{runs[0]}.{runs[1]}"
        raise ValueError(
            f"{shown} could be {grouped} or {decimal}; say in the column mapping whether the file uses a decimal "
            "comma (decimal_comma: true or false)."
        )
    return last


def _not_the_file_mark(shown: str, *, decimal_comma: bool) -> ValueError:
    name = "comma" if decimal_comma else "point"
    return ValueError(f"{shown} is not a number with a decimal {name}, as the column mapping says this file has.")
