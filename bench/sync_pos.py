"""Benchmark the POS sync end to end: orders per second from a fake Square on loopback, through one Celery worker,
into PostgreSQL, next to the same number of orders written through the services directly in the same run: the row
path (customer_upsert for each new client, order_record for each order: what the sync did before it wrote pages
set-based) and the set-based one (customer_upsert for each new client, orders_record_many per page), in one
process, no HTTP, no broker.

    .venv/bin/python bench/sync_pos.py [--orders 100000] [--lines 3] [--clients 25000] [--page-size 200] [--keep]

Needs Redis (CELERY_BROKER_URL, else 127.0.0.1:6379). The scratch database (atelier_bench_sync) is created on the
server the settings point at, migrated, and dropped at the end unless --keep. The ceiling's orders and the sync's
are distinct (two boutiques, their own clients and ids) and shaped alike: `lines` lines each, a client for every
`orders / clients` orders. The sync is timed from "sync now" to the run's end, as the run log records it.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
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

from bench.seed import _recreate_database, _setup_django  # noqa: E402
from config.queues import queue_name  # noqa: E402

DATABASE = "atelier_bench_sync"


def square_orders(prefix: str, location: str, orders: int, lines: int, clients: int) -> list[dict]:
    from tests.sync.fakes import square_order

    return [
        square_order(f"{prefix}{number:07d}", customer_id=f"{prefix}C{number % clients:06d}", location_id=location,
                     updated_at=f"2026-03-01T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}"
                                f".{number // 86400:06d}Z", lines=lines, unit_amount=12500)
        for number in range(orders)
    ]


def _lines(order: dict) -> list:
    from decimal import Decimal

    from touchpoints.services import OrderLineData

    return [OrderLineData(sku=item["catalog_object_id"], quantity=int(item["quantity"]),
                          unit_price=Decimal(item["total_money"]["amount"]).scaleb(-2),
                          product_name=item["name"]) for item in order["line_items"]]


def set_based(orders: list[dict], boutique, page_size: int) -> float:
    """The same orders through the services directly, a page at a time: customer_upsert for each new client, then
    orders_record_many for the page, in one transaction a page as the sync writes it. Seconds taken."""
    from decimal import Decimal

    from django.db import transaction

    from customers.services import customer_upsert
    from touchpoints.services.orders import OrderItem, orders_record_many

    clients: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, len(orders), page_size):
        with transaction.atomic():
            items = []
            for order in orders[start:start + page_size]:
                customer_id = clients.get(order["customer_id"])
                if customer_id is None:
                    customer_id = clients[order["customer_id"]] = customer_upsert(
                        source="pos", external_id=order["customer_id"],
                        email=f"{order['customer_id'].lower()}@bench.example", home_boutique=boutique,
                    ).customer.pk
                lines = _lines(order)
                items.append(OrderItem(
                    source="pos", external_id=order["id"], customer_id=customer_id,
                    placed_at=_moment(order["created_at"]), currency="EUR",
                    total=sum(Decimal(line.unit_price) * line.quantity for line in lines), lines=lines,
                    status="fulfilled", channel="boutique", boutique_id=boutique.pk,
                ))
            orders_record_many(items=items)
    return time.perf_counter() - started


def ceiling(orders: list[dict], boutique) -> float:
    """The same orders through the row services directly (order_record per order): seconds taken."""
    from decimal import Decimal

    from customers.services import customer_upsert
    from touchpoints.services import order_record

    clients: dict[str, object] = {}
    started = time.perf_counter()
    for order in orders:
        customer = clients.get(order["customer_id"])
        if customer is None:
            customer = customer_upsert(source="pos", external_id=order["customer_id"],
                                       email=f"{order['customer_id'].lower()}@bench.example",
                                       home_boutique=boutique).customer
            clients[order["customer_id"]] = customer
        lines = _lines(order)
        order_record(source="pos", external_id=order["id"], customer=customer, placed_at=_moment(order["created_at"]),
                     currency="EUR", total=sum(Decimal(line.unit_price) * line.quantity for line in lines),
                     lines=lines, status="fulfilled", channel="boutique", boutique=boutique)
    return time.perf_counter() - started


def _moment(value: str):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value)


def end_to_end(orders: list[dict], boutique, page_size: int, clients: int) -> tuple[float, object]:
    """The orders served by a fake Square on loopback, synced by one worker: seconds from "sync now" to the end."""
    from django.conf import settings

    from sync.models import ConnectorSetting, SyncRun
    from sync.services import connector_setting_save, sync_start
    from tests.sync.fakes import FakePos

    pos = FakePos().start()
    pos.add_orders(orders)
    for number in range(clients):
        customer_id = f"SC{number:06d}"
        pos.add_customer(customer_id, email_address=f"{customer_id.lower()}@bench.example")
    os.environ["BENCH_POS_TOKEN"] = "bench-token"
    setting = connector_setting_save(setting=ConnectorSetting(
        name="Bench Square", kind="square_pos", endpoint=pos.url, secret_variable="BENCH_POS_TOKEN",
        options={"page_size": page_size}, is_enabled=False,
    ))
    setting.boutiques.add(boutique)
    # The run's own queue namespace (CELERY_QUEUE_PREFIX): no other installation's worker takes its tasks.
    prefix = f"bench-sync-{uuid.uuid4().hex[:8]}"
    queue = settings.SYNC_TASK_QUEUE = queue_name(prefix, "sync")
    params = settings.DATABASES["default"]
    env = {**os.environ, "DATABASE_URL": f"postgres://{params['USER'] or 'postgres'}@{params['HOST'] or '127.0.0.1'}:"
                                         f"{params['PORT'] or 5432}/{params['NAME']}",
           "CELERY_QUEUE_PREFIX": prefix, "SYNC_TASK_QUEUE": "sync", "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING", "-n", f"{prefix}@%h"],
        cwd=PROJECT_ROOT, env=env,
    )
    try:
        from config.celery import app

        while not app.control.ping(destination=[f"{prefix}@{os.uname().nodename}"], timeout=0.5):
            if worker.poll() is not None:
                raise RuntimeError("The worker exited at start.")
        started = time.perf_counter()
        run, _ = sync_start(setting=setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)
        while True:
            run.refresh_from_db()
            if run.status not in SyncRun.ACTIVE:
                break
            time.sleep(0.2)
        return time.perf_counter() - started, run
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        pos.stop()
        # What the recorded orders queued in turn (the journey rules) names rows of the bench database only.
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue_name(prefix, "default"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--clients", type=int, default=25_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()

    _setup_django()
    version = _recreate_database(options.database)
    _setup_django(options.database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from customers.models import Boutique
    from touchpoints.models import Order, OrderLine

    direct = Boutique.objects.create(code="BENCH-DIRECT", name="Bench direct", city="Paris", country="FR")
    paged = Boutique.objects.create(code="BENCH-PAGED", name="Bench paged", city="Paris", country="FR")
    synced = Boutique.objects.create(code="BENCH-SYNC", name="Bench sync", city="Paris", country="FR")
    print(f"PostgreSQL {version}, Python {platform.python_version()}, {os.cpu_count()} cores; "
          f"{options.orders:,} orders of {options.lines} lines for {options.clients:,} clients per method")

    direct_orders = square_orders("D", direct.code, options.orders, options.lines, options.clients)
    seconds = ceiling(direct_orders, direct)
    ceiling_rate = options.orders / seconds
    print(f"row      order_record per order, one process:     {seconds:8.1f} s  {ceiling_rate:8.0f} orders/s")
    paged_orders = square_orders("P", paged.code, options.orders, options.lines, options.clients)
    seconds = set_based(paged_orders, paged, options.page_size)
    paged_rate = options.orders / seconds
    print(f"ceiling  orders_record_many per page, one process: {seconds:8.1f} s  {paged_rate:8.0f} orders/s  "
          f"({paged_rate / ceiling_rate:.2f}x the row path)")

    synced_orders = square_orders("S", synced.code, options.orders, options.lines, options.clients)
    seconds, run = end_to_end(synced_orders, synced, options.page_size, options.clients)
    rate = options.orders / seconds
    print(f"sync     fake Square -> 1 worker -> PostgreSQL:   {seconds:8.1f} s  {rate:8.0f} orders/s  "
          f"({run.status}: {run.pages} pages, {run.created:,} created, {run.rejected} rejected)")
    print(f"ratio    sync / row path: {rate / ceiling_rate:.2f}x; set-based ceiling / sync: {paged_rate / rate:.2f}x "
          "(target: 1,000 orders/s end to end)")
    counted = Order.objects.filter(boutique=synced).count(), OrderLine.objects.filter(order__boutique=synced).count()
    print(f"check    synced orders {counted[0]:,}, lines {counted[1]:,}")
    if not options.keep:
        from bench.seed import _drop_database

        _drop_database(options.database)


if __name__ == "__main__":
    main()
