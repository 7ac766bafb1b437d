"""Legacy files for the import benchmark: deterministic, exactly counted, streamed, and loadable by COPY.

Most tests read a written file back with the csv module and count for themselves what FileStats claims, judging
values with the normalizers every entry point uses: the files must really hold what the stats say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
import sys
import tracemalloc
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from bench import vocabulary
from bench.import_copy_baseline import copy_file, detect_format
from bench.legacy_files import (
    CUSTOMER_BROKEN_KINDS,
    CUSTOMER_COLUMNS,
    ORDER_BROKEN_KINDS,
    ORDER_COLUMNS,
    FileStats,
    MessRates,
    main,
    write_customer_file,
    write_order_file,
)
from core.errors import ApplicationError
from customers.normalizers import normalize_email, normalize_phone

# Rates high enough for every kind of mess to show up in a file of a few hundred rows.
RICH = MessRates(
    email_untidy=0.2, phone_national=0.2, phone_spaced=0.1, phone_double_zero=0.1, phone_trunk_zero=0.1,
    multiline_notes=0.5, currency_symbol=0.3, duplicate_identity=0.05, duplicate_email=0.05, duplicate_phone=0.05,
    exact_duplicate=0.03, duplicate_window=50, blank_line=0.02, broken_invalid_email=0.02,
    broken_unparseable_phone=0.02, broken_impossible_date=0.02, broken_unknown_boutique=0.02,
    broken_negative_quantity_without_return=0.02, broken_totals_mismatch=0.02,
)
BOUTIQUE_CODES = {boutique.code for boutique in vocabulary.BOUTIQUES}
DATE_PATTERNS = {
    "ymd": re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?: \d{2}:\d{2}:\d{2})?$"),
    "dmy": re.compile(r"^(?P<d>\d{2})/(?P<m>\d{2})/(?P<y>\d{4})(?: \d{2}:\d{2})?$"),
    "mdy": re.compile(r"^(?P<m>\d{2})/(?P<d>\d{2})/(?P<y>\d{4})(?: \d{2}:\d{2})?$"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_back(path: Path, stats: FileStats) -> tuple[list[dict[str, str]], int]:
    """The file's data rows as dicts by column, and its blank lines; every line must be as wide as the header."""
    import csv

    with open(path, encoding=stats.encoding, newline="") as handle:
        records = list(csv.reader(handle, delimiter=stats.delimiter))
    trailing = [""] if stats.messy else []
    assert records[0] == [*stats.columns, *trailing]
    rows, blank_lines = [], 0
    for record in records[1:]:
        if not record:
            blank_lines += 1
            continue
        assert len(record) == len(records[0])
        if trailing:
            assert record[-1] == ""
        rows.append(dict(zip(stats.columns, record, strict=False)))
    return rows, blank_lines


def is_real_date(text: str, order: str) -> bool:
    match = DATE_PATTERNS[order].match(text)
    assert match, f"{text!r} is not written in the {order} order"
    try:
        dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return False
    return True


def amount(text: str) -> Decimal:
    """An amount as a person reads it: currency symbols, spaces and a decimal comma are only presentation."""
    for symbol in ("€", "£", "$", "¥", "AED"):
        text = text.replace(symbol, "")
    return Decimal(text.replace(" ", "").replace(",", "."))


def phone_style(text: str) -> str:
    if re.fullmatch(r"\+\d+", text):
        return "e164"
    if text.startswith("00"):
        return "phone_double_zero"
    if "(0)" in text:
        return "phone_trunk_zero"
    return "phone_spaced" if text.startswith("+") else "phone_national"


def recount_customers(path: Path, stats: FileStats) -> dict[str, object]:
    """Count, from the file alone, what a client FileStats claims: persons, duplicates, broken rows, untidy values.

    People are told apart the way the importer finds a client: an identity first, then the normalized email, then
    the normalized phone. A row that matches two different people would be a duplicate nobody meant.
    """
    rows, blank_lines = read_back(path, stats)
    person_of: dict[tuple[str, str], int] = {}
    seen_rows: set[tuple[str, ...]] = set()
    persons = 0
    duplicates: Counter[str] = Counter()
    broken: Counter[str] = Counter()
    untidy: Counter[str] = Counter()
    for row in rows:
        defects, email, phone = [], "", ""
        try:
            email = normalize_email(row["email"])
        except ApplicationError:
            defects.append("invalid_email")
        try:
            phone = normalize_phone(row["phone"], region=row["country"])
        except ApplicationError:
            defects.append("unparseable_phone")
        dates = [row[column] for column in ("birth_date", "email_marketing_at", "sms_marketing_at") if row[column]]
        if not all(is_real_date(date, stats.date_order) for date in dates):
            defects.append("impossible_date")
        if row["home_boutique"] not in BOUTIQUE_CODES:
            defects.append("unknown_boutique")
        assert len(defects) <= 1, f"a row with two defects: {row}"
        broken.update(defects)
        if email and row["email"] != email:
            untidy["email_untidy"] += 1
        if phone and phone_style(row["phone"]) != "e164":
            untidy[phone_style(row["phone"])] += 1
        untidy["multiline_notes"] += "\n" in row["advisor_notes"]
        untidy["trailing_column"] += stats.messy

        cells = tuple(row.values())
        if cells in seen_rows:
            duplicates["exact"] += 1
            continue
        seen_rows.add(cells)
        identities = [(system, row[f"{system}_id"]) for system in ("crm", "pos", "ecommerce") if row[f"{system}_id"]]
        keys = {"identity": identities, "email": [("email", email)] * bool(email),
                "phone": [("phone", phone)] * bool(phone)}
        found = {kind: {person_of[key] for key in keys[kind] if key in person_of} for kind in keys}
        matched = set().union(*found.values())
        assert len(matched) <= 1, f"a row that matches two people: {row}"
        if matched:
            duplicates[next(kind for kind in ("identity", "email", "phone") if found[kind])] += 1
            person = matched.pop()
        else:
            persons += 1
            person = persons
        for key in (*keys["identity"], *keys["email"], *keys["phone"]):
            person_of[key] = person
    return {
        "rows": len(rows), "blank_lines": blank_lines, "persons": persons,
        "duplicates": {kind: duplicates[kind] for kind in ("identity", "email", "phone", "exact")},
        "broken": {kind: broken[kind] for kind in CUSTOMER_BROKEN_KINDS},
        "untidy": {kind: count for kind, count in sorted(untidy.items()) if count},
    }


def recount_orders(path: Path, stats: FileStats) -> dict[str, object]:
    """Count, from the file alone, what an order FileStats claims, checking each order's total against its lines."""
    rows, blank_lines = read_back(path, stats)
    orders: dict[tuple[str, str], list[dict[str, str]]] = {}
    finished: set[tuple[str, str]] = set()
    previous: dict[str, str] | None = None
    duplicates = 0
    for row in rows:
        key = (row["source"], row["order_id"])
        if row == previous:
            duplicates += 1
            continue
        if previous is not None and key != (previous["source"], previous["order_id"]):
            finished.add((previous["source"], previous["order_id"]))
        assert key not in finished, f"the lines of order {key} are not next to each other"
        orders.setdefault(key, []).append(row)
        previous = row
    broken_orders: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for key, lines in orders.items():
        first = lines[0]
        assert [line["line_number"] for line in lines] == [str(n) for n in range(1, len(lines) + 1)]
        assert 1 <= len(lines) <= 5
        for column in ("crm_id", "email", "boutique", "placed_at", "status", "currency", "order_total"):
            assert {line[column] for line in lines} == {first[column]}, f"{column} differs within order {key}"
        statuses[first["status"]] += 1
        defects = []
        if not is_real_date(first["placed_at"], stats.date_order):
            defects.append("impossible_date")
        if any(int(line["quantity"]) < 0 and line["is_return"] == "0" for line in lines):
            defects.append("negative_quantity_without_return")
        if sum(int(line["quantity"]) * amount(line["unit_price"]) for line in lines) != amount(first["order_total"]):
            defects.append("totals_mismatch")
        if first["boutique"] not in BOUTIQUE_CODES:
            defects.append("unknown_boutique")
        assert len(defects) <= 1, f"order {key} has two defects: {defects}"
        broken_orders.update(defects)
        # A return line gives back a piece the order sold.
        sold = {line["sku"] for line in lines if line["is_return"] == "0"}
        assert all(line["sku"] in sold and int(line["quantity"]) < 0 for line in lines if line["is_return"] == "1")
    return {
        "rows": len(rows), "blank_lines": blank_lines, "orders": len(orders), "duplicates": {"exact": duplicates},
        "broken_orders": {kind: broken_orders[kind] for kind in ORDER_BROKEN_KINDS},
        "statuses": {status: count for status, count in sorted(statuses.items())},
        "return_lines": sum(row["is_return"] == "1" for row in rows),
    }


def test_the_client_columns_are_atelier_fields_so_the_file_needs_no_mapping():
    from imports.kinds_fields import CUSTOMER_FIELDS

    assert set(CUSTOMER_COLUMNS) <= CUSTOMER_FIELDS


# --- Determinism -----------------------------------------------------------------------------------------------


def test_the_same_seed_writes_byte_identical_files_and_another_seed_does_not(tmp_path):
    first = write_customer_file(tmp_path / "a.csv", rows=400, seed=3, rates=RICH)
    second = write_customer_file(tmp_path / "b.csv", rows=400, seed=3, rates=RICH)
    other = write_customer_file(tmp_path / "c.csv", rows=400, seed=4, rates=RICH)
    orders = [write_order_file(tmp_path / f"o{n}.csv", lines=400, seed=seed, customers=100, rates=RICH,
                               delimiter=";", encoding="cp1252", date_order="dmy")
              for n, seed in ((1, 3), (2, 3), (3, 4))]

    assert sha256(tmp_path / "a.csv") == sha256(tmp_path / "b.csv") != sha256(tmp_path / "c.csv")
    assert sha256(tmp_path / "o1.csv") == sha256(tmp_path / "o2.csv") != sha256(tmp_path / "o3.csv")
    assert first.as_dict() | {"path": "", "seconds": 0} == second.as_dict() | {"path": "", "seconds": 0}
    assert other.rows == first.rows == 400
    assert [stats.rows for stats in orders] == [400, 400, 400]


def test_a_client_is_the_same_whatever_the_size_of_the_file(tmp_path):
    write_customer_file(tmp_path / "small.csv", rows=100, seed=5, messy=False)
    write_customer_file(tmp_path / "large.csv", rows=300, seed=5, messy=False)

    small, large = (tmp_path / "small.csv").read_bytes(), (tmp_path / "large.csv").read_bytes()
    assert large.startswith(small)
    assert small.count(b"\r\n") == 101


# --- Exact stats, and a file that holds what they say ---------------------------------------------------------


def test_a_messy_client_file_has_exact_stats_and_holds_what_they_say(tmp_path):
    path = tmp_path / "clients.csv"

    stats = write_customer_file(path, rows=500, seed=7, rates=RICH)

    assert (stats.rows, stats.persons, stats.blank_lines, stats.bytes) == (500, 431, 7, 133_421)
    assert stats.duplicates == {"identity": 19, "email": 18, "phone": 24, "exact": 8}
    assert stats.broken == {"invalid_email": 5, "unparseable_phone": 8, "impossible_date": 7, "unknown_boutique": 8}
    assert stats.untidy == {"email_untidy": 92, "multiline_notes": 48, "phone_double_zero": 68,
                            "phone_national": 69, "phone_spaced": 60, "phone_trunk_zero": 33, "trailing_column": 500}
    assert (stats.invalid_rows, stats.valid_rows, stats.expected_clients) == (28, 472, 403)
    assert stats.rows == stats.persons + sum(stats.duplicates.values())
    assert stats.bytes == path.stat().st_size
    assert recount_customers(path, stats) == {
        "rows": stats.rows, "blank_lines": stats.blank_lines, "persons": stats.persons,
        "duplicates": stats.duplicates, "broken": stats.broken, "untidy": stats.untidy,
    }


def test_a_clean_client_file_has_no_mess_at_all(tmp_path):
    path = tmp_path / "clean.csv"

    stats = write_customer_file(path, rows=300, seed=7, messy=False)

    recount = recount_customers(path, stats)
    assert recount == {"rows": 300, "blank_lines": 0, "persons": 300,
                       "duplicates": {"identity": 0, "email": 0, "phone": 0, "exact": 0},
                       "broken": dict.fromkeys(CUSTOMER_BROKEN_KINDS, 0), "untidy": {}}
    assert (stats.persons, sum(stats.duplicates.values()), stats.invalid_rows, stats.untidy) == (300, 0, 0, {})
    assert path.read_text().splitlines()[0] == ",".join(CUSTOMER_COLUMNS)


def test_an_order_file_has_exact_stats_and_consistent_totals_but_for_the_broken_orders(tmp_path):
    path = tmp_path / "orders.csv"

    stats = write_order_file(path, lines=500, seed=7, customers=120, rates=RICH, delimiter=";", encoding="cp1252",
                             date_order="dmy")

    assert (stats.rows, stats.orders, stats.blank_lines, stats.bytes) == (500, 254, 11, 83_668)
    assert stats.duplicates == {"exact": 15}
    assert stats.broken_orders == {"impossible_date": 6, "negative_quantity_without_return": 4,
                                   "totals_mismatch": 7, "unknown_boutique": 5}
    assert stats.broken == {"impossible_date": 9, "negative_quantity_without_return": 4, "totals_mismatch": 12,
                            "unknown_boutique": 11}
    assert stats.untidy == {"currency_symbol": 157, "email_untidy": 21, "trailing_column": 500}
    assert stats.details == {"reference_both": 46, "reference_crm_id": 360, "reference_email": 94,
                             "return_lines": 5, "source_ecommerce": 83, "source_pos": 171, "status_cancelled": 9,
                             "status_fulfilled": 242, "status_returned": 3}
    assert stats.expected_orders == 232
    # Totals add up on every order but the 7 deliberately wrong; returns and cancellations are not defects.
    assert recount_orders(path, stats) == {
        "rows": 500, "blank_lines": 11, "orders": 254, "duplicates": {"exact": 15},
        "broken_orders": stats.broken_orders, "statuses": {"cancelled": 9, "fulfilled": 242, "returned": 3},
        "return_lines": 5,
    }


def test_a_clean_order_file_adds_up_everywhere_and_still_has_returns_and_cancellations(tmp_path):
    path = tmp_path / "orders.csv"

    stats = write_order_file(path, lines=3_000, seed=11, customers=500, messy=False)

    recount = recount_orders(path, stats)
    assert recount["broken_orders"] == dict.fromkeys(ORDER_BROKEN_KINDS, 0)
    assert recount["duplicates"] == {"exact": 0}
    assert recount["blank_lines"] == 0
    assert recount["orders"] == stats.orders
    assert recount["statuses"]["cancelled"] > 0
    assert recount["statuses"]["returned"] > 0
    assert recount["return_lines"] == stats.details["return_lines"] > 0
    assert path.read_text().splitlines()[0] == ",".join(ORDER_COLUMNS)


def test_orders_refer_only_to_valid_clients_of_the_client_file_of_the_same_seed(tmp_path):
    clients = write_customer_file(tmp_path / "clients.csv", rows=500, seed=7, rates=RICH)
    orders = write_order_file(tmp_path / "orders.csv", lines=500, seed=7, customers=120, rates=RICH)
    client_rows, _ = read_back(tmp_path / "clients.csv", clients)
    order_rows, _ = read_back(tmp_path / "orders.csv", orders)

    valid = {}
    for row in client_rows:
        if row["crm_id"] and row["crm_id"] <= "CRM-00000120":
            try:
                email = normalize_email(row["email"])
                normalize_phone(row["phone"], region=row["country"])
            except ApplicationError:
                continue
            if row["home_boutique"] in BOUTIQUE_CODES and is_real_date(row["birth_date"] or "2000-01-01", "ymd"):
                valid[row["crm_id"]] = email
    by_email = {email: crm_id for crm_id, email in valid.items() if email}

    for row in order_rows:
        email = normalize_email(row["email"]) if row["email"] else ""
        assert row["crm_id"] or email
        if row["crm_id"]:
            assert row["crm_id"] in valid
        if email:
            assert by_email[email] == (row["crm_id"] or by_email[email])


# --- Encodings, delimiters, dates ------------------------------------------------------------------------------


def test_the_latin1_semicolon_variant_is_cp1252_with_day_first_dates_and_decimal_commas(tmp_path):
    clients = write_customer_file(tmp_path / "clients.csv", rows=800, seed=2, encoding="cp1252", delimiter=";",
                                  date_order="dmy")
    orders = write_order_file(tmp_path / "orders.csv", lines=800, seed=2, customers=200, encoding="cp1252",
                              delimiter=";", date_order="dmy", rates=RICH)
    raw_clients, raw_orders = (tmp_path / "clients.csv").read_bytes(), (tmp_path / "orders.csv").read_bytes()

    with pytest.raises(UnicodeDecodeError):
        raw_clients.decode("utf-8")
    text = raw_clients.decode("cp1252")
    assert any(name in text for name in ("Chloé", "Élise", "Hélène", "Béatrice", "Müller", "García", "Lefèvre"))
    assert text.startswith("crm_id;pos_id;ecommerce_id;first_name;")
    rows, _ = read_back(tmp_path / "clients.csv", clients)
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", row["birth_date"]) for row in rows if row["birth_date"])
    assert (clients.encoding, clients.delimiter, clients.date_order) == ("cp1252", ";", "dmy")

    assert "€".encode("cp1252") in raw_orders
    order_rows, _ = read_back(tmp_path / "orders.csv", orders)
    assert all(re.fullmatch(r"-?(\$|£|¥|AED )?\d+,\d{2}( €)?", row["unit_price"]) for row in order_rows)
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", row["placed_at"])
               for row in order_rows if is_real_date(row["placed_at"], "dmy"))
    assert orders.decimal_comma
    assert orders.untidy["currency_symbol"] == sum(
        not row["unit_price"].replace(",", "").lstrip("-").isdigit() for row in order_rows)
    assert detect_format(tmp_path / "orders.csv")[:2] == ("cp1252", ";")


def test_a_bom_and_month_first_dates_are_honoured(tmp_path):
    path = tmp_path / "clients.csv"

    stats = write_customer_file(path, rows=200, seed=9, encoding="utf-8-sig", date_order="mdy", rates=RICH)

    assert path.read_bytes().startswith(b"\xef\xbb\xbfcrm_id,")
    assert detect_format(path) == ("utf-8-sig", ",", [*CUSTOMER_COLUMNS, ""])
    assert recount_customers(path, stats)["broken"] == stats.broken
    rows, _ = read_back(path, stats)
    months = {int(row["birth_date"][:2]) for row in rows if row["birth_date"]}
    assert months <= set(range(1, 14))
    assert max(int(row["birth_date"][3:5]) for row in rows if row["birth_date"]) > 12


def test_the_command_line_writes_the_variant_asked_for_and_its_stats(tmp_path, capsys):
    stats = main(["orders", str(tmp_path / "orders.csv"), "--lines", "300", "--seed", "4", "--latin1-semicolon",
                  "--stats-json", str(tmp_path / "stats.json")])

    assert (stats.rows, stats.encoding, stats.delimiter, stats.date_order, stats.customers) == (
        300, "cp1252", ";", "dmy", 75)
    assert '"rows": 300' in (tmp_path / "stats.json").read_text()
    assert "300 rows" in capsys.readouterr().out


# --- Memory ----------------------------------------------------------------------------------------------------


def _peak_while(write) -> float:
    tracemalloc.start()
    try:
        write()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_the_writers_stream_their_rows_instead_of_holding_them(tmp_path):
    # 10,000 rows held in memory as lists of strings would take well over 10 MB; a stream needs its buffer.
    customers = _peak_while(lambda: write_customer_file(tmp_path / "c.csv", rows=10_000, seed=1))
    orders = _peak_while(lambda: write_order_file(tmp_path / "o.csv", lines=10_000, seed=1, customers=2_500))

    assert customers < 4
    assert orders < 4


# A child process reports how much its peak resident memory (VmHWM) grew while writing; VmHWM, not ru_maxrss,
# because Linux carries ru_maxrss over fork and exec from the parent (pytest, Django and all).
_GROWTH_SCRIPT = """
import sys
from bench.import_copy_baseline import peak_memory_mb
from bench.legacy_files import write_customer_file, write_order_file
write_customer_file(sys.argv[1], rows=1_000, seed=1)  # imports, caches and buffers in place first
before = peak_memory_mb()
write_customer_file(sys.argv[1], rows=200_000, seed=1)
write_order_file(sys.argv[2], lines=200_000, seed=1, customers=50_000)
print(peak_memory_mb() - before)
"""


@pytest.mark.slow
def test_writing_200000_clients_and_200000_order_lines_grows_peak_memory_by_less_than_20_megabytes(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", _GROWTH_SCRIPT, str(tmp_path / "c.csv"), str(tmp_path / "o.csv")],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )

    assert float(completed.stdout) < 20
    assert (tmp_path / "c.csv").stat().st_size > 40 * 2**20


# --- The COPY baseline -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_copy_baseline_loads_exactly_the_data_rows_of_a_messy_file(tmp_path):
    clients = write_customer_file(tmp_path / "clients.csv", rows=500, seed=7, rates=RICH)
    orders = write_order_file(tmp_path / "orders.csv", lines=500, seed=7, customers=120, rates=RICH,
                              delimiter=";", encoding="cp1252", date_order="dmy")
    connection.ensure_connection()

    # Small blocks, so that lines and blank lines fall across block boundaries.
    loaded_clients = copy_file(connection.connection, clients.path, table="bench_clients", block_size=4_096)
    loaded_orders = copy_file(connection.connection, orders.path, table="bench_orders", block_size=777)

    assert (loaded_clients.rows, loaded_clients.blank_lines, loaded_clients.columns) == (500, 7, 23)
    assert (loaded_orders.rows, loaded_orders.blank_lines, loaded_orders.columns) == (500, 11, 18)
    assert (loaded_orders.encoding, loaded_orders.delimiter) == ("cp1252", ";")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT column_1) FILTER (WHERE column_1 <> '') FROM bench_clients")
        assert cursor.fetchone() == (500, 500 - 19 - 8)  # identity duplicates have no crm_id; exact copies repeat
        cursor.execute("SELECT count(*) FROM bench_clients WHERE column_22 LIKE %s", ["%\n%"])
        assert cursor.fetchone() == (clients.untidy["multiline_notes"],)
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE column_16 LIKE %s) FROM bench_orders", ["%€"])
        assert cursor.fetchone()[0] == 500
        cursor.execute("SELECT count(*) FROM bench_orders WHERE column_13 ~ '[éè]'")
        assert cursor.fetchone()[0] > 0
