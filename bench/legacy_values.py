"""What legacy exports hold: the house's clients and catalogue as the old systems knew them, and how they wrote them.

bench.legacy_files writes the files; this module draws what goes in them and spells it the way real exports do
(dates in three orders, phones in five forms, untidy and broken emails, amounts with decimal commas and symbols).
Everything is drawn from random.Random seeded per client or order (`rng_for`), so a value never depends on the
size of the file it lands in. Names, cities, phones, boutiques, personas and products come from bench.vocabulary.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import accumulate

import phonenumbers

from bench import vocabulary as vocab

CUSTOMER_BROKEN_KINDS = ("invalid_email", "unparseable_phone", "impossible_date", "unknown_boutique")
ORDER_BROKEN_KINDS = ("impossible_date", "negative_quantity_without_return", "totals_mismatch", "unknown_boutique")
DUPLICATE_KINDS = ("identity", "email", "phone")
# Phones are made unique from the client number (see unique_phone); beyond this they could repeat.
MAX_PERSONS = 8_000_000
ANCHOR = (2026, 1, 1)  # (year, month, day): every date is counted back from here, so files do not age
ADVISOR_DOMAIN = "atelier.example"  # bench.generator gives staff <username>@atelier.example
# Boutiques of the old system that Atelier does not know (closed, or never set up): the unknown codes.
UNKNOWN_BOUTIQUES = ("ZRH-BHF", "HKG-LDM", "SGP-ION", "BER-KDM", "MOW-TSM")
# The old house's price lists per currency (one unit of list price in euros, rounded like a price tag). Deliberately
# not settings.CURRENCY_RATES: a file must be the same whatever the environment overrides.
PRICE_LISTS = {"EUR": Decimal(1), "GBP": Decimal("0.86"), "USD": Decimal("1.09"), "JPY": Decimal(160),
               "AED": Decimal(4)}
CURRENCY_SYMBOLS = {"EUR": ("", " €"), "GBP": ("£", ""), "USD": ("$", ""), "JPY": ("¥", ""), "AED": ("AED ", "")}
STREAM_PERSON, STREAM_FATE, STREAM_MESS, STREAM_ORDER, STREAM_FILE = range(1, 6)


@dataclass(frozen=True)
class MessRates:
    """How often each kind of mess appears: per client (fates), per row, per order or per email or phone value."""

    email_untidy: float = 0.08  # of emails
    phone_national: float = 0.12  # of phones (national form only for a client of their boutique's country)
    phone_spaced: float = 0.06
    phone_double_zero: float = 0.03
    phone_trunk_zero: float = 0.02
    multiline_notes: float = 0.2  # of notes of two sentences or more
    currency_symbol: float = 0.2  # of orders, in files with decimal commas
    duplicate_identity: float = 0.02  # of clients
    duplicate_email: float = 0.02
    duplicate_phone: float = 0.01
    exact_duplicate: float = 0.005  # of rows
    duplicate_window: int = 5_000  # a client's second row comes up to this many rows later
    blank_line: float = 0.001  # after a row
    broken_invalid_email: float = 0.0005  # of clients
    broken_unparseable_phone: float = 0.0005  # of clients
    broken_impossible_date: float = 0.0005  # of clients, and of orders
    broken_unknown_boutique: float = 0.0005  # of clients, and of orders
    broken_negative_quantity_without_return: float = 0.0005  # of orders
    broken_totals_mismatch: float = 0.0005

    def broken(self, kind: str) -> float:
        return getattr(self, f"broken_{kind}")


DEFAULT_RATES = MessRates()


# --- Drawing ---------------------------------------------------------------------------------------------------


def rng_for(seed: int, stream: int, number: int) -> random.Random:
    """A generator for one client or order: independent of every other, and of the size of the file."""
    return random.Random((seed << 44) | (stream << 40) | number)


@cache
def _ascii(name: str) -> str:
    """A name as it appears in an email address: no accents, spaces or apostrophes."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in plain if c.isalnum())


def unique_phone(rng: random.Random, country: str, number: int) -> str:
    """A mobile number in the country's range (vocabulary.PHONES), its last seven digits a bijection of `number`.

    Every pattern ends in at least seven free digits (the US one in a digit 2-9 and six free ones), so two clients
    of the same country never share a number: an accidental shared phone would be a duplicate nobody counted.
    """
    drawn = vocab.PHONES[country](rng)
    if country == "US":
        scrambled = (number * 4_999_999) % 8_000_000
        return f"{drawn[:-7]}{2 + scrambled // 1_000_000}{scrambled % 1_000_000:06d}"
    return f"{drawn[:-7]}{(number * 7_654_321) % 10_000_000:07d}"


@dataclass(frozen=True)
class Person:
    """A client of the house as the old CRM knew them; their identities derive from their number."""

    number: int
    boutique: vocab.BoutiqueSpec
    persona: vocab.PersonaSpec
    country: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164
    birth_date: tuple[int, int, int] | None
    language: str
    city: str
    advisor: str
    has_pos: bool
    has_ecommerce: bool
    email_marketing: tuple[str, tuple[int, int, int]] | None  # ("yes" | "no", date)
    sms_marketing: tuple[str, tuple[int, int, int]] | None
    sizes: tuple[str, ...]
    categories: tuple[str, ...]
    styles: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def crm_id(self) -> str:
        return f"CRM-{self.number:08d}"

    @property
    def pos_id(self) -> str:
        return f"POS-{self.number:08d}"

    @property
    def ecommerce_id(self) -> str:
        # A scrambled but unique account number, as an online shop shows it (bijective below 2**32).
        return f"cus_{(self.number * 2654435761) % 2**32:08x}"

    @property
    def second_crm_id(self) -> str:
        """The id of the same person's second record in the old CRM (nine digits: never another person's)."""
        return f"CRM-9{self.number:08d}"


_BOUTIQUE_WEIGHTS = list(accumulate(spec.weight for spec in vocab.BOUTIQUES))
_PERSONA_WEIGHTS = list(accumulate(spec.weight for spec in vocab.PERSONAS))
CATEGORY_NAMES = tuple(category.name for category in vocab.CATEGORIES)


def _date(rng: random.Random, first_year: int, last_year: int) -> tuple[int, int, int]:
    return (rng.randint(first_year, last_year), rng.randint(1, 12), rng.randint(1, 28))


def draw_person(seed: int, number: int) -> Person:
    """Client `number` (from 1) of the house, as the old CRM knew them: the same in every file of the seed."""
    rng = rng_for(seed, STREAM_PERSON, number)
    boutique = rng.choices(vocab.BOUTIQUES, cum_weights=_BOUTIQUE_WEIGHTS)[0]
    persona = rng.choices(vocab.PERSONAS, cum_weights=_PERSONA_WEIGHTS)[0]
    travels = persona.slug == "global-traveller"
    country = boutique.country if rng.random() < (0.6 if travels else 0.88) else rng.choice(boutique.visitors)
    people = vocab.COUNTRIES[country]
    is_female = rng.random() < 0.68
    first_name = rng.choice(people.female if is_female else people.male)
    last_name = rng.choice(people.surnames)
    email = ""
    if rng.random() < 0.96:
        first, last = _ascii(first_name), _ascii(last_name)
        local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{last}.{first}", f"{first}{last[0]}"))
        email = f"{local}{number}@{rng.choice(vocab.EMAIL_DOMAINS)}"
    phone = unique_phone(rng, country, number) if rng.random() < 0.9 else ""
    birth_date = _date(rng, ANCHOR[0] - 78, ANCHOR[0] - 21) if rng.random() < 0.85 else None
    language = people.languages[0] if rng.random() < 0.75 else rng.choice(people.languages)
    city = rng.choice(people.cities)
    advisor = ""
    if rng.random() < 0.93:
        advisor = f"advisor.{boutique.slug}.{rng.randint(1, boutique.advisors)}@{ADVISOR_DOMAIN}"
    has_pos, has_ecommerce = rng.random() < 0.6, rng.random() < 0.4

    def consent(has_channel: bool, grants: float, refuses: float) -> tuple[str, tuple[int, int, int]] | None:
        roll = rng.random()
        if not has_channel or roll >= grants + refuses:
            return None
        return ("yes" if roll < grants else "no", _date(rng, ANCHOR[0] - 8, ANCHOR[0] - 1))

    email_marketing = consent(bool(email), 0.72, 0.12)
    sms_marketing = consent(bool(phone), 0.35, 0.10)
    categories = [c for c in persona.categories if rng.random() < 0.6] or [persona.categories[0]]
    if rng.random() < 0.2:
        categories.append(rng.choice(CATEGORY_NAMES))
    categories = list(dict.fromkeys(categories))
    size = rng.choice(vocab.FEMALE_SIZES if is_female else vocab.MALE_SIZES)
    sizes = []
    if "Ready-to-wear" in categories:
        sizes.append(size)
    if "Shoes" in categories:
        sizes.append(rng.choice(vocab.FEMALE_SHOE_SIZES if is_female else vocab.MALE_SHOE_SIZES))
    styles = tuple(rng.sample(persona.styles, rng.randint(1, 2)))
    notes: tuple[str, ...] = ()
    if advisor and rng.random() < 0.3:
        notes = tuple(
            note.format(line=rng.choice(vocab.LINES), month=rng.choice(vocab.MONTHS),
                        category=rng.choice(categories).lower(), size=size)
            for note in rng.sample(vocab.ADVISOR_NOTES, rng.randint(1, 3))
        )
    return Person(number, boutique, persona, country, first_name, last_name, email, phone, birth_date, language,
                   city, advisor, has_pos, has_ecommerce, email_marketing, sms_marketing, tuple(sizes),
                   tuple(categories), styles, notes)


def client_fate(seed: int, number: int, rates: MessRates) -> str:
    """What a messy client file does with client `number`: "" (nothing), "broken:<kind>" or "duplicate:<kind>".

    Drawn apart from the person, so that an order file can skip the broken clients without drawing them.
    """
    roll = rng_for(seed, STREAM_FATE, number).random()
    for kind in CUSTOMER_BROKEN_KINDS:
        roll -= rates.broken(kind)
        if roll < 0:
            return f"broken:{kind}"
    for kind in DUPLICATE_KINDS:
        roll -= getattr(rates, f"duplicate_{kind}")
        if roll < 0:
            return f"duplicate:{kind}"
    return ""


# --- Formatting ------------------------------------------------------------------------------------------------


def format_date(date: tuple[int, int, int], order: str) -> str:
    """A date as the file writes dates: ISO (ymd), day first (dmy) or month first (mdy)."""
    year, month, day = date
    if order == "dmy":
        return f"{day:02d}/{month:02d}/{year}"
    if order == "mdy":
        return f"{month:02d}/{day:02d}/{year}"
    return f"{year}-{month:02d}-{day:02d}"


def format_moment(date: tuple[int, int, int], hour: int, minute: int, second: int, order: str) -> str:
    """A local date and time of day in the file's date order (ISO with seconds for ymd)."""
    if order == "ymd":
        return f"{format_date(date, order)} {hour:02d}:{minute:02d}:{second:02d}"
    return f"{format_date(date, order)} {hour:02d}:{minute:02d}"


def impossible_date(rng: random.Random, year: int) -> tuple[int, int, int]:
    """A date no calendar has (30 February, 31 April, month 13), in whatever order it is written."""
    month, day = rng.choice(((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, 12)))
    return (year, month, day)


def day_before_anchor(days: int) -> tuple[int, int, int]:
    """The date `days` before ANCHOR, as (year, month, day)."""
    date = dt.date(*ANCHOR) - dt.timedelta(days=days)
    return (date.year, date.month, date.day)


@cache
def _has_trunk_zero(country: str) -> bool:
    return phonenumbers.PhoneMetadata.metadata_for_region(country).national_prefix == "0"


def format_phone(person: Person, style: str) -> tuple[str, str]:
    """The person's phone written in `style` if it suits their country, and the style actually used."""
    if style == "national" and person.country != person.boutique.country:
        style = "spaced"  # a boutique reads local numbers in its own country: a foreign one must carry its code
    if style == "trunk_zero" and not _has_trunk_zero(person.country):
        style = "double_zero"
    if style == "e164":
        return person.phone, style
    number = phonenumbers.parse(person.phone)
    if style == "national":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL), style
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if style == "double_zero":
        return "00" + international[1:], style
    if style == "trunk_zero":
        return international.replace(" ", " (0)", 1), style
    return international, style


PHONE_STYLES = ("national", "spaced", "double_zero", "trunk_zero")


def draw_phone_style(rng: random.Random, rates: MessRates) -> str:
    """How a messy file writes this phone: e164, or one of PHONE_STYLES at its rate."""
    roll = rng.random()
    for style in PHONE_STYLES:
        roll -= getattr(rates, f"phone_{style}")
        if roll < 0:
            return style
    return "e164"


def untidy_email(rng: random.Random, email: str) -> str:
    """The same address as someone typed it at the till: capitals here and there, and stray spaces."""
    local, domain = email.split("@")
    if rng.random() < 0.5:
        local = ".".join(part.capitalize() for part in local.split("."))
    if rng.random() < 0.3:
        domain = domain.upper()
    return rng.choice(("", " ", "  ")) + f"{local}@{domain}" + rng.choice((" ", "  ", "\t"))


def broken_email(rng: random.Random, person: Person) -> str:
    """An address no mail server accepts: no domain, no @, two @, a space, an empty label."""
    local = f"{_ascii(person.first_name)}.{_ascii(person.last_name)}{person.number}"
    domain = rng.choice(vocab.EMAIL_DOMAINS)
    return rng.choice((f"{local}@", f"{local}.{domain}", f"{local}@@{domain}", f"{local} @{domain}",
                       f"{local}@{domain.replace('.', '..', 1)}"))


def broken_phone(rng: random.Random, person: Person) -> str:
    """A number no one can dial: cut short, as when a till's field was too narrow."""
    phone = person.phone or unique_phone(rng, person.country, person.number)
    return rng.choice((phone[: len(phone) - 5], "0" + phone[-4:], f"{phone[:3]} {phone[3:5]}"))


def format_amount(value: Decimal, currency: str, *, decimal_comma: bool, symbol: bool) -> str:
    """An amount as the file writes it: 2 decimals, a decimal comma or point, a currency symbol or not."""
    text = f"{abs(value):.2f}"
    if decimal_comma:
        text = text.replace(".", ",")
    if symbol:
        prefix, suffix = CURRENCY_SYMBOLS[currency]
        text = f"{prefix}{text}{suffix}"
    return f"-{text}" if value < 0 else text



# --- The catalogue -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """A piece of the old house's catalogue, with its price in each boutique currency."""

    sku: str
    name: str
    category: str
    prices: dict[str, Decimal]


@cache
def catalogue() -> dict[str, tuple[Product, ...]]:
    """The old house's catalogue: bench.generator's SKU scheme, cheapest first in each category."""
    rng = random.Random(20_260_101)
    catalogue = {}
    for category in vocab.CATEGORIES:
        low, high = category.price_range
        products = []
        for number in range(1, category.count + 1):
            euros = Decimal(round((low + (high - low) * rng.random() ** 3) / category.step) * category.step)
            prices = {}
            for currency, factor in PRICE_LISTS.items():
                local = euros * factor
                step = Decimal(1000) if local >= 100_000 else Decimal(10)
                prices[currency] = ((local / step).quantize(Decimal(1)) * step).quantize(Decimal("0.01"))
            products.append(Product(f"{category.code}-{number:04d}",
                                     f"{rng.choice(vocab.LINES)} {rng.choice(category.items)}", category.name,
                                     prices))
        catalogue[category.name] = tuple(sorted(products, key=lambda product: product.prices["EUR"]))
    return catalogue

