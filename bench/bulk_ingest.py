"""Benchmark the bulk API: interactions per second through POST /api/v1/interactions/bulk/ (1,000 items a request,
Django's test client in process: authentication, throttling, parsing, the bulk service, interactions_record_many),
next to the bulk service called directly and to interaction_record one item at a time, in the same run.

    .venv/bin/python bench/bulk_ingest.py [--interactions 20000] [--clients 5000] [--database atelier_bench_bulk]

The scratch database is created on the server the settings point at, migrated, and dropped at the end unless
--keep. Each method records its own interactions (distinct external ids) for the same clients, found by public id.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import uuid
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-long-enough-0123456789-abcdefghijklmnop")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["API_KEY_RATE"] = "100000000/min"
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from bench.seed import _drop_database, _recreate_database, _setup_django  # noqa: E402

DATABASE = "atelier_bench_bulk"
BATCH = 1000
# The row path is slow: it records this share of the interactions (at least one batch), enough for its rate.
ROW_SHARE = 10


def visits(method: str, count: int, clients: list[str]) -> list[dict]:
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    return [{"customer": clients[number % len(clients)], "touchpoint_type": "store_visit",
             "occurred_at": (now - dt.timedelta(minutes=number)).isoformat(), "source": "pos",
             "external_id": f"bench-{method}-{number}", "channel": "boutique"}
            for number in range(count)]


def row_path(items: list[dict]) -> float:
    from django.utils.dateparse import parse_datetime

    from customers.models import Customer
    from touchpoints.models import TouchpointType
    from touchpoints.services import interaction_record

    customers = {str(customer.public_id): customer for customer in Customer.objects.all()}
    visit = TouchpointType.objects.get(code="store_visit")
    started = time.perf_counter()
    for item in items:
        interaction_record(customer=customers[item["customer"]], touchpoint_type=visit,
                           occurred_at=parse_datetime(item["occurred_at"]), source=item["source"],
                           external_id=item["external_id"], channel=item["channel"])
    return time.perf_counter() - started


def service(items: list[dict]) -> float:
    from touchpoints.services.bulk import interactions_record_bulk

    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        results = interactions_record_bulk(items=items[start:start + BATCH])
        if any(result.status != "created" for result in results):
            raise RuntimeError("A bench interaction was not created.")
    return time.perf_counter() - started


def api(items: list[dict], secret: str) -> float:
    from django.test import Client

    client = Client()
    headers = {"Authorization": f"Api-Key {secret}"}
    bodies = [json.dumps({"items": items[start:start + BATCH]}) for start in range(0, len(items), BATCH)]
    started = time.perf_counter()
    for body in bodies:
        response = client.post("/api/v1/interactions/bulk/", data=body, content_type="application/json",
                               headers=headers)
        if response.status_code not in (200, 201, 207):
            raise RuntimeError(f"The bulk API answered {response.status_code}: {response.content[:300]!r}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=5_000)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()

    _setup_django()
    version = _recreate_database(options.database)
    _setup_django(options.database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from customers.models import Boutique, Customer
    from integrations.models import ApiKey
    from touchpoints.models import Interaction

    boutique = Boutique.objects.create(code="BENCH-BULK", name="Bench bulk", city="Paris", country="FR")
    Customer.objects.bulk_create(
        Customer(first_name="Bench", last_name=f"Client {number}", email=f"bulk-{number}@bench.example",
                 home_boutique=boutique)
        for number in range(options.clients)
    )
    clients = [str(public_id) for public_id in Customer.objects.values_list("public_id", flat=True)]
    _key, secret = ApiKey.objects.create_key(name=f"bench {uuid.uuid4().hex[:8]}",
                                             scopes=["customers:read", "interactions:write"])
    print(f"PostgreSQL {version}, Python {platform.python_version()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; {options.interactions:,} store visits for {options.clients:,} clients, "
          f"{BATCH:,} a request")
    try:
        rows = max(BATCH, options.interactions // ROW_SHARE)
        seconds = row_path(visits("row", rows, clients))
        row_rate = rows / seconds
        print(f"row      interaction_record per item:        {rows:>7,} in {seconds:6.1f} s  {row_rate:8,.0f} /s")
        seconds = service(visits("service", options.interactions, clients))
        service_rate = options.interactions / seconds
        print(f"service  interactions_record_bulk directly:  {options.interactions:>7,} in {seconds:6.1f} s  "
              f"{service_rate:8,.0f} /s  ({service_rate / row_rate:.1f}x the row path)")
        seconds = api(visits("api", options.interactions, clients), secret)
        api_rate = options.interactions / seconds
        print(f"api      POST /api/v1/interactions/bulk/:    {options.interactions:>7,} in {seconds:6.1f} s  "
              f"{api_rate:8,.0f} /s  ({api_rate / row_rate:.1f}x the row path; target >= 15,000/s)")
        print(f"check    interactions recorded {Interaction.objects.count():,} "
              f"(expected {rows + 2 * options.interactions:,})")
    finally:
        if not options.keep:
            _drop_database(options.database)


if __name__ == "__main__":
    main()
