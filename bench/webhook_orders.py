"""Benchmark one Shopify-style `orders/create` webhook at a time: latency (p50/p95/p99 ms) of the whole delivery
(Django's test client in process: middleware, signature, delivery log, handler, services) next to the handler
alone in the same run (order_sync: the client found or created, the order recorded, no request, no delivery log).
It also counts the statements that write the client row for one order of a known client.

    .venv/bin/python bench/webhook_orders.py [--orders 2000] [--clients 500] [--database atelier_bench_webhooks]

The scratch database is created on the server the settings point at, migrated, and dropped at the end unless
--keep. Orders are the sample order of tests/webhooks/samples with their own ids; a client for every
`orders / clients` orders, so most orders are a known client's.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import statistics
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
os.environ["SHOPIFY_WEBHOOK_SECRET"] = SECRET = "bench-webhook-secret"
os.environ["WEBHOOK_RATE"] = "100000000/min"
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from bench.seed import _drop_database, _recreate_database, _setup_django  # noqa: E402

DATABASE = "atelier_bench_webhooks"
_WRITES_CLIENTS = re.compile(r'(UPDATE|INSERT INTO)\s+"?customers_customer"?[\s(]', re.IGNORECASE)
SAMPLE = PROJECT_ROOT / "tests" / "webhooks" / "samples" / "order.json"


def orders(prefix: int, count: int, clients: int) -> list[dict]:
    data = json.loads(SAMPLE.read_text())
    sample = data.get("order", data)
    made = []
    for number in range(count):
        order = copy.deepcopy(sample)
        client = number % clients
        order["id"] = prefix + number
        order["name"] = f"#B{prefix + number}"
        order["test"] = False
        order["updated_at"] = f"2026-03-01T10:{number // 60 % 60:02d}:{number % 60:02d}+00:00"
        order["email"] = f"client{prefix}-{client}@bench.example"
        order["customer"] = {**order["customer"], "id": prefix + 5_000_000 + client, "email": order["email"],
                             "updated_at": order["updated_at"]}
        made.append(order)
    return made


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100)
    return f"p50 {cut[49] * 1000:6.1f} ms  p95 {cut[94] * 1000:6.1f} ms  p99 {cut[98] * 1000:6.1f} ms"


def handler_alone(payloads: list[dict]) -> list[float]:
    from django.db import transaction

    from webhooks import mapping
    from webhooks.services import order_sync

    timings = []
    for payload in payloads:
        started = time.perf_counter()
        with transaction.atomic():
            order_sync(order=mapping.shopify_order(payload), provider="shopify")
        timings.append(time.perf_counter() - started)
    return timings


def post(client, payload: dict):
    from webhooks.signatures import body_signature

    body = json.dumps(payload).encode()
    headers = {
        "X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Shop-Domain": "bench.myshopify.com", "X-Shopify-Hmac-Sha256": body_signature(body, SECRET),
    }
    response = client.post("/webhooks/shopify/", data=body, content_type="application/json", headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"The webhook answered {response.status_code}: {response.content[:200]!r}")
    return response


def deliveries(payloads: list[dict]) -> list[float]:
    from django.test import Client

    client = Client()
    timings = []
    for payload in payloads:
        started = time.perf_counter()
        post(client, payload)
        timings.append(time.perf_counter() - started)
    return timings


def client_row_writes(payload: dict) -> tuple[int, list[str]]:
    """The statements that write customers_customer while one delivery is processed."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        post(Client(), payload)
    writes = [query["sql"] for query in captured.captured_queries if _WRITES_CLIENTS.search(query["sql"])]
    # From the write itself: pghistory prefixes each statement with its context.
    return len(writes), [" ".join(sql[_WRITES_CLIENTS.search(sql).start():].split())[:100] for sql in writes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()

    _setup_django()
    version = _recreate_database(options.database)
    _setup_django(options.database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"PostgreSQL {version}, Python {platform.python_version()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}; {options.orders:,} orders/create one at a time for {options.clients:,} clients "
          "per method")
    try:
        alone = handler_alone(orders(10_000_000, options.orders, options.clients))
        print(f"handler  order_sync alone (no request, no log):  {percentiles(alone)}")
        delivered = deliveries(orders(20_000_000, options.orders, options.clients))
        print(f"webhook  POST /webhooks/shopify/ orders/create: {percentiles(delivered)}  (target p95 < 100 ms)")
        print(f"ratio    webhook p95 / handler p95: "
              f"{statistics.quantiles(delivered, n=100)[94] / statistics.quantiles(alone, n=100)[94]:.2f}x")
        # One more order of a client the run knows already: what it writes on the client's row.
        known = orders(20_000_000, options.orders + 1, options.clients)[-1]
        count, statements = client_row_writes(known)
        print(f"client   statements writing the client row for one order of a known client: {count}")
        for statement in statements:
            print(f"           {statement}")
    finally:
        if not options.keep:
            _drop_database(options.database)


if __name__ == "__main__":
    main()
