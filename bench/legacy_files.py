"""Legacy exports at the scale of a real house: the client and order files a new Atelier customer brings along.

    .venv/bin/python bench/legacy_files.py customers FILE --rows 1000000 [--seed 42] [--latin1-semicolon]
    .venv/bin/python bench/legacy_files.py orders FILE --lines 2000000 [--customers 500000] [--seed 42]

`write_customer_file` and `write_order_file` stream a CSV file to disk one row at a time (a few hundred rows at
most wait in memory, whatever the size) and return a FileStats with the exact count of everything they put in
it, so that tests can assert them and the import benchmark can print them. Names, cities, phones, boutiques,
personas and products come from bench.vocabulary, like the demo data; bench.legacy_values draws the clients and
the catalogue and spells every value the way old exports do.

Columns carry Atelier's field names (imports.kinds_fields.CUSTOMER_FIELDS), so the reader needs no mapping:
- clients (CUSTOMER_COLUMNS): crm_id, pos_id, ecommerce_id (identities), first_name, last_name, email, phone,
  birth_date, home_boutique (a boutique code), advisor (an advisor's email), persona (a persona's name),
  language, city, country, email_marketing / sms_marketing (yes, no or blank) with email_marketing_at /
  sms_marketing_at (the date it was given or refused), preferences_sizes / _categories / _styles (comma-separated),
  advisor_notes.
- order lines (ORDER_COLUMNS), one row per line, the lines of an order next to each other: source (pos or
  ecommerce), order_id (unique per source), crm_id and/or email of the client, boutique, advisor (the seller's
  email, POS only), placed_at (local time of the boutique), status (placed, fulfilled, cancelled, returned),
  currency, order_total (repeated on each line; the sum of quantity x unit_price over the order's lines),
  line_number, sku, product_name, category, quantity (negative for a returned piece), unit_price, is_return
  (1 on a return line, else 0). Orders have 1 to 5 lines; a few are cancelled, returned, or carry a return line.

Determinism: every client is drawn from random.Random seeded by (seed, client number), every order from
(seed, order number), so the same arguments give a byte-identical file, client n is the same person in every
file of the same seed, and an order file written with `customers=M` refers (by crm_id or email) only to clients
1..M that are valid in the client file of the same seed (the broken ones are never referred to). M must not
exceed FileStats.persons of that client file. Phones are unique per client up to MAX_PERSONS clients.

Messy files (messy=True, the default) hold what real exports hold, at the rates of MessRates, each counted in
FileStats (rows unless said otherwise):
- untidy but valid values (`untidy`): emails with stray spaces and capitals; phones in national ("06 12 34 56
  78", only for clients of their boutique's country, the region the importer reads local numbers in), "0033 6…",
  "+33 (0)6…" or spaced international form; advisor notes on several lines; currency symbols on amounts (files
  with decimal commas); a trailing empty column on every line, header included.
- duplicates (`duplicates`): the same person again in a later row, matched by identity (no crm_id, the same
  pos_id), by email (a new crm_id, the same email untidied, no phone) or by phone (a new crm_id, no email, the
  same phone in another format); exact copies of a row (for orders, right after the line they copy).
- blank lines between rows (`blank_lines`, not rows).
- broken rows (`broken`, one defect per row, and for orders `broken_orders`): invalid email, unparseable phone,
  impossible date, unknown boutique code; in orders also a negative quantity without the return marker and a
  total that does not add up. A broken client has a single row; every line of a broken order carries the order's
  defect except a negative quantity, which is on one line.
Files with `;` as delimiter write amounts with a decimal comma unless told otherwise; `date_order` (ymd, dmy,
mdy) says how dates are written, ISO 8601 for ymd.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import heapq
import itertools
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import vocabulary as vocab
from bench.legacy_values import (
    ADVISOR_DOMAIN,
    ANCHOR,
    CATEGORY_NAMES,
    CUSTOMER_BROKEN_KINDS,
    DEFAULT_RATES,
    DUPLICATE_KINDS,
    MAX_PERSONS,
    ORDER_BROKEN_KINDS,
    PHONE_STYLES,
    STREAM_FILE,
    STREAM_MESS,
    STREAM_ORDER,
    UNKNOWN_BOUTIQUES,
    MessRates,
    Person,
    Product,
    broken_email,
    broken_phone,
    catalogue,
    client_fate,
    day_before_anchor,
    draw_person,
    draw_phone_style,
    format_amount,
    format_date,
    format_moment,
    format_phone,
    impossible_date,
    rng_for,
    untidy_email,
)

__all__ = ["CUSTOMER_COLUMNS", "ORDER_COLUMNS", "CUSTOMER_BROKEN_KINDS", "ORDER_BROKEN_KINDS", "DUPLICATE_KINDS",
           "DEFAULT_RATES", "MAX_PERSONS", "FileStats", "MessRates", "write_customer_file", "write_order_file", "main"]

CUSTOMER_COLUMNS = (
    "crm_id", "pos_id", "ecommerce_id", "first_name", "last_name", "email", "phone", "birth_date", "home_boutique",
    "advisor", "persona", "language", "city", "country", "email_marketing", "email_marketing_at", "sms_marketing",
    "sms_marketing_at", "preferences_sizes", "preferences_categories", "preferences_styles", "advisor_notes",
)
ORDER_COLUMNS = (
    "source", "order_id", "crm_id", "email", "boutique", "advisor", "placed_at", "status", "currency", "order_total",
    "line_number", "sku", "product_name", "category", "quantity", "unit_price", "is_return",
)
DATE_ORDERS = ("ymd", "dmy", "mdy")
HISTORY_DAYS = 5 * 365
# Business shares, in clean files too: of orders cancelled, wholly returned, or with one piece returned.
CANCELLED_SHARE, RETURNED_SHARE, PARTIAL_RETURN_SHARE = 0.03, 0.03, 0.04


@dataclass
class FileStats:
    """What a written file holds, exactly: rows, bytes, and each kind of duplicate, broken row and untidy value.

    `rows` are the data rows (duplicates included; the header and blank lines not). For clients, `persons` is the
    number of distinct people; for orders, `orders` the distinct (source, order_id) and `customers` the range of
    client numbers they refer to. `broken` counts rows by defect; `broken_orders` orders by defect.
    """

    kind: str
    path: str
    seed: int
    encoding: str
    delimiter: str
    date_order: str
    decimal_comma: bool
    messy: bool
    columns: tuple[str, ...]
    rows: int = 0
    blank_lines: int = 0
    bytes: int = 0
    seconds: float = 0.0
    persons: int = 0
    orders: int = 0
    customers: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)
    broken: dict[str, int] = field(default_factory=dict)
    broken_orders: dict[str, int] = field(default_factory=dict)
    untidy: dict[str, int] = field(default_factory=dict)
    details: dict[str, int] = field(default_factory=dict)

    @property
    def invalid_rows(self) -> int:
        return sum(self.broken.values())

    @property
    def valid_rows(self) -> int:
        return self.rows - self.invalid_rows

    @property
    def expected_clients(self) -> int:
        """Clients a valid-rows-only import of a client file creates: one per person, but the broken ones."""
        return self.persons - self.invalid_rows

    @property
    def expected_orders(self) -> int:
        return self.orders - sum(self.broken_orders.values())

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "invalid_rows": self.invalid_rows, "valid_rows": self.valid_rows}


# --- Writing ---------------------------------------------------------------------------------------------------


class _Sink:
    """The CSV file being written, with its counts: rows, blank lines, untidy values."""

    def __init__(self, handle: IO[str], *, stats: FileStats, rng: random.Random, rates: MessRates) -> None:
        self.handle = handle
        self.stats = stats
        self.rng = rng
        self.rates = rates
        self.messy = stats.messy
        self.trailing = [""] if stats.messy else []
        self.writer = csv.writer(handle, delimiter=stats.delimiter, lineterminator="\r\n")
        self.untidy: Counter[str] = Counter()
        self.writer.writerow([*stats.columns, *self.trailing])

    def emit(self, cells: list[str], untidy: tuple[str, ...] = ()) -> None:
        self.writer.writerow(cells + self.trailing)
        self.stats.rows += 1
        self.untidy.update(untidy)
        if self.messy:
            self.untidy["trailing_column"] += 1
            if self.rng.random() < self.rates.blank_line:
                self.handle.write("\r\n")
                self.stats.blank_lines += 1


def _open(path: str | Path, kind: str, *, seed: int, encoding: str, delimiter: str, date_order: str,
          decimal_comma: bool | None, messy: bool, columns: tuple[str, ...]) -> tuple[IO[str], FileStats]:
    if seed < 0:
        raise ValueError("The seed must be >= 0.")
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date_order must be one of {', '.join(DATE_ORDERS)}, not {date_order!r}.")
    stats = FileStats(kind=kind, path=str(path), seed=seed, encoding=encoding, delimiter=delimiter,
                      date_order=date_order, decimal_comma=delimiter == ";" if decimal_comma is None else decimal_comma,
                      messy=messy, columns=columns)
    # 1 MiB of buffer: the writer issues few system calls, and that is all it keeps.
    return open(path, "w", encoding=encoding, newline="", buffering=1 << 20), stats  # noqa: SIM115


def _finish(stats: FileStats, sink: _Sink, began: float) -> FileStats:
    """Complete the stats once the file is closed."""
    stats.untidy = dict(sorted(sink.untidy.items()))
    stats.bytes = Path(stats.path).stat().st_size
    stats.seconds = time.perf_counter() - began
    return stats


def _customer_cells(person: Person, date_order: str, **values: str) -> list[str]:
    """A client's row as the old CRM exported it; `values` override (or blank) single cells."""
    email_marketing, sms_marketing = person.email_marketing, person.sms_marketing
    row = {
        "crm_id": person.crm_id,
        "pos_id": person.pos_id if person.has_pos else "",
        "ecommerce_id": person.ecommerce_id if person.has_ecommerce else "",
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone,
        "birth_date": format_date(person.birth_date, date_order) if person.birth_date else "",
        "home_boutique": person.boutique.code,
        "advisor": person.advisor,
        "persona": person.persona.name,
        "language": person.language,
        "city": person.city,
        "country": person.country,
        "email_marketing": email_marketing[0] if email_marketing else "",
        "email_marketing_at": format_date(email_marketing[1], date_order) if email_marketing else "",
        "sms_marketing": sms_marketing[0] if sms_marketing else "",
        "sms_marketing_at": format_date(sms_marketing[1], date_order) if sms_marketing else "",
        "preferences_sizes": ", ".join(person.sizes),
        "preferences_categories": ", ".join(person.categories),
        "preferences_styles": ", ".join(person.styles),
        "advisor_notes": " ".join(person.notes),
    }
    row.update(values)
    return [row[column] for column in CUSTOMER_COLUMNS]


def _customer_rows(person: Person, fate: str, *, seed: int, date_order: str, messy: bool,
                   rates: MessRates) -> Iterator[tuple[str, list[str], tuple[str, ...], int]]:
    """The rows of one client: (what the row is, its cells, its untidy values, rows to wait), the main row first."""
    if not messy:
        yield "main", _customer_cells(person, date_order), (), 0
        return
    rng = rng_for(seed, STREAM_MESS, person.number)
    values: dict[str, str] = {}
    untidy: dict[str, str] = {}  # field -> kind of untidiness
    if person.email and rng.random() < rates.email_untidy:
        values["email"], untidy["email"] = untidy_email(rng, person.email), "email_untidy"
    if person.phone:
        values["phone"], style = format_phone(person, draw_phone_style(rng, rates))
        if style != "e164":
            untidy["phone"] = f"phone_{style}"
    if len(person.notes) > 1 and rng.random() < rates.multiline_notes:
        values["advisor_notes"], untidy["advisor_notes"] = "\n".join(person.notes), "multiline_notes"
    group, _, kind = fate.partition(":")
    if group == "broken":
        # The defect is the row's only one: it replaces whatever untidy value the field had.
        broken_field, value = {
            "invalid_email": ("email", lambda: broken_email(rng, person)),
            "unparseable_phone": ("phone", lambda: broken_phone(rng, person)),
            "impossible_date": ("birth_date", lambda: format_date(
                impossible_date(rng, ANCHOR[0] - rng.randint(21, 78)), date_order)),
            "unknown_boutique": ("home_boutique", lambda: rng.choice(UNKNOWN_BOUTIQUES)),
        }[kind]
        values[broken_field] = value()
        untidy.pop(broken_field, None)
        yield fate, _customer_cells(person, date_order, **values), tuple(untidy.values()), 0
        return
    if (kind == "email" and not person.email) or (kind == "phone" and not person.phone):
        kind = ""  # nothing to share: this client stays single
    if kind == "identity":
        values["pos_id"] = person.pos_id  # the POS knows them: their second row comes from its export
    main = _customer_cells(person, date_order, **values)
    yield "main", main, tuple(untidy.values()), 0
    if rng.random() < rates.exact_duplicate:
        yield "duplicate:exact", main, tuple(untidy.values()), rng.randint(1, rates.duplicate_window)
    if not kind:
        return
    second = dict.fromkeys(("crm_id", "pos_id", "ecommerce_id", "email", "phone", "email_marketing",
                            "email_marketing_at", "sms_marketing", "sms_marketing_at", "advisor_notes"), "")
    second_untidy: list[str] = []
    if kind == "identity":
        second["pos_id"] = person.pos_id
    else:
        second["crm_id"] = person.second_crm_id
    if kind in ("identity", "phone") and person.phone:
        # Another till, another habit: the same number, written otherwise than on the first row.
        others = {}
        for wanted in ("e164", *PHONE_STYLES):
            text, used = format_phone(person, wanted)
            if text != values["phone"]:
                others[text] = used
        second["phone"] = rng.choice(sorted(others))
        if others[second["phone"]] != "e164":
            second_untidy.append(f"phone_{others[second['phone']]}")
    if kind == "email":
        second["email"] = untidy_email(rng, person.email) if rng.random() < 0.5 else person.email
        if second["email"] != person.email:
            second_untidy.append("email_untidy")
    yield (f"duplicate:{kind}", _customer_cells(person, date_order, **second), tuple(second_untidy),
           rng.randint(1, rates.duplicate_window))


def write_customer_file(
    path: str | Path, *, rows: int, seed: int, encoding: str = "utf-8", delimiter: str = ",",
    date_order: str = "ymd", messy: bool = True, rates: MessRates = DEFAULT_RATES,
) -> FileStats:
    """Write a legacy client file of exactly `rows` data rows to `path`, streaming, and say what is in it.

    A client's second row (a duplicate) comes up to `rates.duplicate_window` rows after the first; near the end of
    the file, duplicates that would not fit are left out, so the row count is exact.
    """
    if not 0 <= rows <= MAX_PERSONS:
        raise ValueError(f"rows must be between 0 and {MAX_PERSONS:,}.")
    began = time.perf_counter()
    handle, stats = _open(path, "customers", seed=seed, encoding=encoding, delimiter=delimiter,
                          date_order=date_order, decimal_comma=None, messy=messy, columns=CUSTOMER_COLUMNS)
    duplicates: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    # Rows waiting for their turn: (due row count, sequence, what, cells, untidy). A few hundred at most.
    pending: list[tuple[int, int, str, list[str], tuple[str, ...]]] = []
    sequence = itertools.count()
    with handle:
        sink = _Sink(handle, stats=stats, rng=rng_for(seed, STREAM_FILE, 1), rates=rates)
        number = 0
        while stats.rows < rows:
            if pending and (pending[0][0] <= stats.rows or stats.rows + len(pending) >= rows):
                _due, _sequence, what, cells, untidy = heapq.heappop(pending)
                sink.emit(cells, untidy)
                duplicates[what.partition(":")[2]] += 1
                continue
            number += 1
            person = draw_person(seed, number)
            fate = client_fate(seed, number, rates) if messy else ""
            person_rows = _customer_rows(person, fate, seed=seed, date_order=date_order, messy=messy, rates=rates)
            what, cells, untidy, _delay = next(person_rows)
            sink.emit(cells, untidy)
            if what.startswith("broken:"):
                broken[what.partition(":")[2]] += 1
            for what, cells, untidy, delay in person_rows:
                # Near the end, a second row that would not fit is left out: the row count stays exact.
                if stats.rows + len(pending) < rows:
                    heapq.heappush(pending, (stats.rows + delay, next(sequence), what, cells, untidy))
        stats.persons = number
        stats.duplicates = {kind: duplicates[kind] for kind in (*DUPLICATE_KINDS, "exact")}
        stats.broken = {kind: broken[kind] for kind in CUSTOMER_BROKEN_KINDS}
    return _finish(stats, sink, began)


# --- Orders ----------------------------------------------------------------------------------------------------


def _order_broken_kind(rng: random.Random, rates: MessRates) -> str:
    roll = rng.random()
    for kind in ORDER_BROKEN_KINDS:
        roll -= rates.broken(kind)
        if roll < 0:
            return kind
    return ""


def _client_of_order(rng: random.Random, *, seed: int, customers: int, rates: MessRates) -> Person:
    """A client the order belongs to, never one the client file of the seed has broken."""
    for _attempt in range(1_000):
        number = rng.randint(1, customers)
        if not client_fate(seed, number, rates).startswith("broken:"):
            return draw_person(seed, number)
    raise ValueError(f"No valid client among the first {customers} of seed {seed}.")


def write_order_file(
    path: str | Path, *, lines: int, seed: int, customers: int, encoding: str = "utf-8", delimiter: str = ",",
    date_order: str = "ymd", decimal_comma: bool | None = None, messy: bool = True,
    rates: MessRates = DEFAULT_RATES,
) -> FileStats:
    """Write a legacy order-line file of exactly `lines` data rows to `path`, streaming, and say what is in it.

    Orders refer to clients 1..`customers` of the client file of the same seed. `decimal_comma` defaults to
    True for `;` files; amounts then carry a currency symbol now and then (messy files).
    """
    if lines < 0 or not 1 <= customers <= MAX_PERSONS:
        raise ValueError(f"lines must be >= 0 and customers between 1 and {MAX_PERSONS:,}.")
    began = time.perf_counter()
    handle, stats = _open(path, "orders", seed=seed, encoding=encoding, delimiter=delimiter, date_order=date_order,
                          decimal_comma=decimal_comma, messy=messy, columns=ORDER_COLUMNS)
    stats.customers = customers
    products_by_category = catalogue()
    broken: Counter[str] = Counter()
    broken_orders: Counter[str] = Counter()
    details: Counter[str] = Counter()
    duplicates = 0
    with handle:
        sink = _Sink(handle, stats=stats, rng=rng_for(seed, STREAM_FILE, 2), rates=rates)
        number = 0
        while stats.rows < lines:
            number += 1
            rng = rng_for(seed, STREAM_ORDER, number)
            person = _client_of_order(rng, seed=seed, customers=customers, rates=rates)
            broken_kind = _order_broken_kind(rng, rates) if messy else ""
            is_web = rng.random() < person.persona.web_share
            boutique = person.boutique
            if not is_web and rng.random() < (0.3 if person.persona.slug == "global-traveller" else 0.05):
                boutique = rng.choice(vocab.BOUTIQUES)
            currency = boutique.currency
            source = "ecommerce" if is_web else "pos"
            order_id = f"W{number:010d}" if is_web else f"{boutique.code}-{number:09d}"
            days_ago = rng.randrange(HISTORY_DAYS)
            hour = rng.randrange(7, 24) if is_web else rng.randrange(10, 19)
            placed_on = day_before_anchor(days_ago)
            if broken_kind == "impossible_date":
                placed_on = impossible_date(rng, placed_on[0])
            placed_at = format_moment(placed_on, hour, rng.randrange(60), rng.randrange(60), date_order)
            seller = ""
            if not is_web:
                seller = person.advisor if boutique is person.boutique and person.advisor else (
                    f"advisor.{boutique.slug}.{rng.randint(1, boutique.advisors)}@{ADVISOR_DOMAIN}")
            # The client as the system knew them: POS by the CRM id, the web shop often by email alone.
            reference = "crm_id"
            if person.email and rng.random() < (0.6 if is_web else 0.1):
                reference = "email" if rng.random() < 0.7 else "both"
            email = person.email if reference != "crm_id" else ""
            email_untidy = bool(email) and messy and rng.random() < rates.email_untidy
            if email_untidy:
                email = untidy_email(rng, email)

            count = min(rng.choices((1, 2, 3, 4, 5), cum_weights=(50, 75, 88, 96, 100))[0], lines - stats.rows)
            status, roll = "fulfilled", rng.random()
            if broken_kind:
                pass  # a broken order is an ordinary sale but for its defect
            elif is_web and days_ago < 3:
                status = "placed"
            elif roll < CANCELLED_SHARE:
                status = "cancelled"
            elif roll < CANCELLED_SHARE + RETURNED_SHARE:
                status = "returned"
            has_return_line = (status == "fulfilled" and not broken_kind and count >= 2
                               and roll > 1 - PARTIAL_RETURN_SHARE)
            order_lines: list[tuple[Product, int, bool]] = []
            for _line in range(count - has_return_line):
                category = rng.choice(person.categories) if rng.random() < 0.7 else rng.choice(CATEGORY_NAMES)
                products = products_by_category[category]
                product = products[int(len(products) * rng.random() ** 1.5)]
                quantity = 2 if category in ("Fragrance", "Small leather goods") and rng.random() < 0.15 else 1
                order_lines.append((product, quantity, False))
            if has_return_line:
                order_lines.append((rng.choice(order_lines)[0], -1, True))
            negative_line = rng.randrange(len(order_lines)) if broken_kind == "negative_quantity_without_return" else -1
            if negative_line >= 0:
                product, quantity, _ = order_lines[negative_line]
                order_lines[negative_line] = (product, -quantity, False)
            total = sum((product.prices[currency] * quantity for product, quantity, _ in order_lines), Decimal(0))
            if broken_kind == "totals_mismatch":
                total += rng.choice((Decimal(10), Decimal(100), order_lines[0][0].prices[currency]))
            shop = rng.choice(UNKNOWN_BOUTIQUES) if broken_kind == "unknown_boutique" else boutique.code

            details[f"status_{status}"] += 1
            details[f"source_{source}"] += 1
            if broken_kind:
                broken_orders[broken_kind] += 1
            stats.orders += 1
            # Symbols come with the system that exported the order: all its amounts have one, or none.
            symbol = messy and stats.decimal_comma and rng.random() < rates.currency_symbol
            for line_number, (product, quantity, is_return) in enumerate(order_lines, start=1):
                untidy = ("email_untidy",) * email_untidy + ("currency_symbol",) * symbol
                cells = [
                    source, order_id, person.crm_id if reference != "email" else "", email, shop, seller, placed_at,
                    status, currency, format_amount(total, currency, decimal_comma=stats.decimal_comma, symbol=symbol),
                    str(line_number), product.sku, product.name, product.category, str(quantity),
                    format_amount(product.prices[currency], currency, decimal_comma=stats.decimal_comma, symbol=symbol),
                    "1" if is_return else "0",
                ]
                line_is_broken = bool(broken_kind) and (
                    broken_kind != "negative_quantity_without_return" or line_number - 1 == negative_line)
                copies = 1
                # An exact copy sits right after its line (orders stay contiguous), if the order still fits.
                if messy and rng.random() < rates.exact_duplicate and (
                    stats.rows + 1 + len(order_lines) - line_number < lines
                ):
                    copies = 2
                    duplicates += 1
                for _copy in range(copies):
                    sink.emit(cells, untidy)
                    details[f"reference_{reference}"] += 1
                    details["return_lines"] += is_return
                    broken[broken_kind] += line_is_broken
        stats.duplicates = {"exact": duplicates}
        stats.broken = {kind: broken[kind] for kind in ORDER_BROKEN_KINDS}
        stats.broken_orders = {kind: broken_orders[kind] for kind in ORDER_BROKEN_KINDS}
        stats.details = dict(sorted(details.items()))
    return _finish(stats, sink, began)


# --- Command line ----------------------------------------------------------------------------------------------


def _print_stats(stats: FileStats) -> None:
    print(f"{stats.path}: {stats.rows:,} rows, {stats.bytes / 2**20:,.1f} MiB ({stats.encoding}, "
          f"{stats.delimiter!r}, dates {stats.date_order}) in {stats.seconds:.1f} s "
          f"({stats.rows / stats.seconds if stats.seconds else 0:,.0f} rows/s)")
    if stats.kind == "customers":
        print(f"  persons {stats.persons:,}; clients after a valid-rows-only import {stats.expected_clients:,}")
    else:
        print(f"  orders {stats.orders:,} (valid {stats.expected_orders:,}), clients 1..{stats.customers:,}")
    for label, counts in (("duplicates", stats.duplicates), ("broken rows", stats.broken),
                          ("broken orders", stats.broken_orders), ("untidy", stats.untidy),
                          ("details", stats.details)):
        if counts:
            print(f"  {label}: " + ", ".join(f"{kind} {count:,}" for kind, count in counts.items()))
    print(f"  blank lines {stats.blank_lines:,}")


def main(argv: list[str] | None = None) -> FileStats:
    """The command line: write one file, print its stats (and save them as JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("customers", "orders"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--rows", type=int, help="Client rows (customers).")
    parser.add_argument("--lines", type=int, help="Order lines (orders).")
    parser.add_argument("--customers", type=int,
                        help="Orders refer to clients 1..N of the client file of the same seed (default lines/4).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--encoding", default="utf-8", help="utf-8 (default), utf-8-sig for a BOM, cp1252 …")
    parser.add_argument("--delimiter", default=",")
    parser.add_argument("--date-order", choices=DATE_ORDERS, default="ymd")
    parser.add_argument("--latin1-semicolon", action="store_true",
                        help="The European spreadsheet export: cp1252, ';', day-first dates, decimal commas.")
    parser.add_argument("--clean", action="store_true", help="No mess: no duplicates, broken rows or untidy values.")
    parser.add_argument("--stats-json", type=Path, help="Also write the FileStats as JSON to this file.")
    arguments = parser.parse_args(argv)
    options: dict[str, Any] = {"seed": arguments.seed, "encoding": arguments.encoding,
                               "delimiter": arguments.delimiter, "date_order": arguments.date_order,
                               "messy": not arguments.clean}
    if arguments.latin1_semicolon:
        options.update(encoding="cp1252", delimiter=";", date_order="dmy")
    if arguments.kind == "customers":
        if arguments.rows is None:
            parser.error("customers needs --rows.")
        stats = write_customer_file(arguments.file, rows=arguments.rows, **options)
    else:
        if arguments.lines is None:
            parser.error("orders needs --lines.")
        customers = arguments.customers or max(1, arguments.lines // 4)
        stats = write_order_file(arguments.file, lines=arguments.lines, customers=customers, **options)
    _print_stats(stats)
    if arguments.stats_json:
        arguments.stats_json.write_text(json.dumps(stats.as_dict(), indent=2) + "\n")
    return stats


if __name__ == "__main__":
    main()
