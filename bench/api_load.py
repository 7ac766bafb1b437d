"""The REST API under load: gunicorn with several workers on loopback, a concurrent load generator, side by side with
plain `ModelViewSet`s (default serializers) on the same data in the same run.

    .venv/bin/python bench/api_load.py [--customers 1000000] [--workers 4] [--concurrency 1,4,16] [--seconds 20]
                                       [--reseed]

The scratch database (atelier_bench_api) is seeded once with the demo generator and kept between runs (--reseed
rebuilds it). gunicorn serves bench.api_urls (the real /api/v1/ and the plain /plain/ viewsets) with
bench.api_settings (DEBUG off, throttling out of the way). The load generator (asyncio + httpx, in this process)
keeps N requests in flight for --seconds per scenario and prints p50/p95 ms and requests/s, the reads at each
level of --concurrency (latency on an idle server, then as the load queues up), the writes at the highest:
- the client list filtered by boutique and tier (page of 50), against the plain list with the same filters;
- a client's detail and timeline (two requests), against the plain detail and the plain interaction list of the
  client;
- bulk ingest: POST /interactions/bulk/ with 1,000 interactions per request (interactions/s), against the plain
  create of one interaction per request.
The generator shares the machine's cores with gunicorn and PostgreSQL: figures are for this machine as a whole.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.seed import _setup_django, seed_if_needed  # noqa: E402
from config.queues import queue_name  # noqa: E402

DATABASE = "atelier_bench_api"
BULK_SIZE = 1_000
SCOPES = ["customers:read", "interactions:write", "catalogue:read"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_gunicorn(port: int, workers: int, database_url: str, queue_prefix: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "bench.api_settings",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(PROJECT_ROOT), "CELERY_QUEUE_PREFIX": queue_prefix}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120"],
        cwd=PROJECT_ROOT, env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


async def _load(base: str, headers: dict[str, str], make_request: Callable[[int], tuple[str, str, Any]],
                concurrency: int, seconds: float) -> tuple[list[float], int, int]:
    """Keep `concurrency` requests in flight for `seconds`; returns latencies (ms), requests done, errors."""
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line a request otherwise
    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as client:
        for number in range(min(concurrency, 5)):  # warm every worker's connection and caches
            method, url, body = make_request(-1 - number)
            await client.request(method, url, json=body)
        stop = time.monotonic() + seconds

        async def user() -> None:
            nonlocal counter, errors
            while time.monotonic() < stop:
                counter += 1
                method, url, body = make_request(counter)
                began = time.perf_counter()
                response = await client.request(method, url, json=body)
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code >= 400:
                    errors += 1

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies, len(latencies), errors


def _line(label: str, latencies: list[float], seconds: float, errors: int, per_request: int = 1) -> None:
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)] if ordered else 0.0
    rate = len(ordered) / seconds
    items = f"{rate * per_request:>12,.0f}" if per_request > 1 else f"{'':>12}"
    print(f"{label:<52}{statistics.median(ordered) if ordered else 0:>9.1f}{p95:>9.1f}{rate:>10,.1f}{items}"
          f"{errors:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", default="1,4,16",
                        help="Requests in flight, comma-separated levels (default 1,4,16): reads run at each.")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--reseed", action="store_true")
    arguments = parser.parse_args()

    _setup_django(DATABASE)
    from django.conf import settings

    seed_if_needed(DATABASE, arguments.customers, reseed=arguments.reseed)
    from customers.models import Boutique, Customer, ValueTier
    from integrations.models import ApiKey
    from touchpoints.models import TouchpointType

    _key, secret = ApiKey.objects.create_key(name=f"bench {uuid.uuid4().hex[:8]}", scopes=SCOPES)
    boutique = Boutique.objects.order_by("pk").first()
    total = Customer.objects.count()
    # A random sample of clients, read by primary key ranges (ORDER BY random() would sort a million rows).
    high = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    wanted = random.Random(7).sample(range(1, high + 1), min(4_000, high))
    sample = list(Customer.objects.filter(pk__in=wanted).values_list("pk", "public_id"))
    visit_type = TouchpointType.objects.get(code="store_visit").pk
    params = settings.DATABASES["default"]
    database_url = (f"postgres://{params.get('USER') or 'postgres'}@{params.get('HOST') or '127.0.0.1'}:"
                    f"{params.get('PORT') or 5432}/{DATABASE}")
    port = _free_port()
    run = uuid.uuid4().hex[:8]
    now = dt.datetime.now(dt.UTC)

    def customer(number: int) -> tuple[int, uuid.UUID]:
        return sample[number % len(sample)]

    def visit(number: int, index: int) -> dict[str, Any]:
        return {"customer": str(customer(number * BULK_SIZE + index)[1]), "touchpoint_type": "store_visit",
                "occurred_at": (now - dt.timedelta(minutes=index)).isoformat(), "source": "pos",
                "external_id": f"bench-{run}-{number}-{index}"}

    reads: list[tuple[str, Callable[[int], tuple[str, str, Any]], int]] = [
        ("client list, boutique + tier filter (Atelier)", lambda n: (
            "GET", f"/api/v1/customers/?boutique_id={boutique.pk}&value_tier={ValueTier.GOLD}", None), 1),
        ("client list, same filters (plain ModelViewSet)", lambda n: (
            "GET", f"/plain/customers/?home_boutique={boutique.pk}&value_tier={ValueTier.GOLD}", None), 1),
        ("client detail (Atelier)", lambda n: ("GET", f"/api/v1/customers/{customer(n)[1]}/", None), 1),
        ("client timeline (Atelier)", lambda n: ("GET", f"/api/v1/customers/{customer(n)[1]}/timeline/", None), 1),
        ("client detail (plain ModelViewSet)", lambda n: ("GET", f"/plain/customers/{customer(n)[0]}/", None), 1),
        ("client's interactions (plain ModelViewSet)", lambda n: (
            "GET", f"/plain/interactions/?customer={customer(n)[0]}", None), 1),
    ]
    writes: list[tuple[str, Callable[[int], tuple[str, str, Any]], int]] = [
        (f"bulk ingest, {BULK_SIZE:,} interactions a request (Atelier)", lambda n: (
            "POST", "/api/v1/interactions/bulk/", {"items": [visit(n, i) for i in range(BULK_SIZE)]}), BULK_SIZE),
        ("create one interaction a request (plain ModelViewSet)", lambda n: (
            "POST", "/plain/interactions/", {"customer": customer(n)[0], "touchpoint_type": visit_type,
                                             "occurred_at": now.isoformat(), "channel": "boutique", "source": "pos",
                                             "external_id": f"plain-{run}-{n}"}), 1),
    ]
    levels = [int(level) for level in str(arguments.concurrency).split(",")]
    # The run's own queue namespace: no worker of another installation on this broker sees what the writes queue.
    queue_prefix = f"bench-api-{run}"
    server = _start_gunicorn(port, arguments.workers, database_url, queue_prefix)
    try:
        print(f"\n{total:,} clients; gunicorn {arguments.workers} workers; {arguments.seconds:.0f} s a scenario; "
              f"{os.cpu_count()} CPUs shared by the load generator, gunicorn and PostgreSQL")
        headers = {"Authorization": f"Api-Key {secret}"}
        for level, scenarios in [*((level, reads) for level in levels), (max(levels), writes)]:
            print(f"\n{level} request(s) in flight")
            print(f"{'scenario':<52}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>10}{'items/s':>12}{'errors':>8}")
            for label, make_request, per_request in scenarios:
                latencies, _count, errors = asyncio.run(_load(
                    f"http://127.0.0.1:{port}", headers, make_request, level, arguments.seconds))
                _line(label, latencies, arguments.seconds, errors, per_request)
    finally:
        server.terminate()
        server.wait(timeout=30)
        _drop_queue(queue_name(queue_prefix, "default"))


def _drop_queue(name: str) -> None:
    """Throw away the tasks the run's writes queued (rules, attribution): they name rows of the bench database."""
    from config.celery import app

    with app.connection_for_write() as connection:
        dropped = connection.default_channel.queue_purge(name)
    print(f"\nDropped the {dropped or 0} tasks the run queued on {name}.")


if __name__ == "__main__":
    main()
