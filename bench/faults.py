"""Faults under load: nothing lost, nothing doubled, when a worker, the broker and the database fail mid-work.

    .venv/bin/python bench/faults.py [--clients 2000] [--batches 40] [--batch-size 250] [--orders 4000]
                                     [--sms 400] [--keep]

On a scratch database (atelier_bench_faults) and a Redis server of its own (started here on a free port, with an
append-only file, so that restarting it is a real restart and never touches the machine's shared Redis), it runs at
once:
- the bulk API: gunicorn, a client posting batches of interactions and posting a batch again (same body, same
  Idempotency-Key) whenever an answer does not come back as 200;
- a POS sync: a fake Square on 127.0.0.1 serving the orders, synced by the workers page by page;
- dispatch: SMS follow-ups due now, sent by the workers (dispatch queued every 2 s, as beat does every minute) to a
  fake Twilio-style provider on 127.0.0.1 that keeps every message it accepted and every request it got.
Two Celery workers (solo pool) run the tasks. Meanwhile: one worker is killed with SIGKILL (and started again), Redis
is restarted, and every connection to the scratch database is terminated (pg_terminate_backend). Then, once the
work is done (or the deadline passes), it counts interactions, orders and messages at the fakes against what was
sent, and says what was lost and what was doubled. Exit status 1 if anything was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.seed import _drop_database, _recreate_database, _server_connection, _setup_django  # noqa: E402

DATABASE = "atelier_bench_faults"
POS_TOKEN_VARIABLE = "BENCH_FAULTS_POS_TOKEN"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_port(port: int, *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"Nothing answers on 127.0.0.1:{port}.")


class Redis:
    """A redis-server of the run's own: durable (appendfsync always), so a restart loses nothing it acknowledged."""

    def __init__(self, directory: Path) -> None:
        self.port, self.directory, self.process = _free_port(), directory, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        time.sleep(1)
        self.start()


class Worker:
    def __init__(self, name: str) -> None:
        self.name, self.process = name, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
             "-n", f"{self.name}@%h"],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # no warm shutdown: its message stays unacknowledged
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def _environment(*, redis_port: int, database_url: str, prefix: str, sms_url: str) -> None:
    """Everything the children (gunicorn, workers) and this process read: set before Django starts."""
    from tests.journeys import fake_sms

    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false",
        "SECRET_KEY": "bench-faults-secret-key-that-is-long-enough-0123456789-abcdefghij",
        "DATABASE_URL": database_url, "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0", "CELERY_QUEUE_PREFIX": prefix,
        "CACHE_URL": "locmem://", "API_KEY_RATE": "100000000/min", "LOG_LEVEL": "WARNING",
        # A killed worker's message comes back within the run, and so does a follow-up it left "sending".
        "CELERY_VISIBILITY_TIMEOUT": "20", "FOLLOWUP_SENDING_LEASE_SECONDS": "10", "SYNC_STALLED_MINUTES": "1",
        "FOLLOWUP_QUIET_HOURS_START": "00:00", "FOLLOWUP_QUIET_HOURS_END": "00:00", "FOLLOWUP_HOLDOUT_PERCENT": "0",
        "SMS_BACKEND": "twilio", "SMS_API_URL": sms_url, "SMS_ACCOUNT_SID": fake_sms.ACCOUNT_SID,
        "SMS_AUTH_TOKEN": fake_sms.AUTH_TOKEN, "SMS_FROM": "+33100000000", "SMS_TIMEOUT_SECONDS": "5",
        POS_TOKEN_VARIABLE: "bench-token",
    })
    os.environ.pop("SYNC_TASK_QUEUE", None)


def _seed(*, clients: int, sms: int, now: dt.datetime):
    from customers.models import Boutique, ConsentEvent, Customer
    from integrations.models import ApiKey
    from journeys.models import FollowUp, FollowUpTemplate, FollowUpVariant

    boutique = Boutique.objects.create(code="BENCH-FAULTS", name="Bench faults", city="Paris", country="FR",
                                       timezone="Europe/Paris", currency="EUR")
    customers = Customer.objects.bulk_create([
        Customer(first_name="Élise", last_name=f"Martin{number}", email=f"client{number}@faults.example",
                 phone=f"+3361{number:07d}", home_boutique=boutique,
                 consent={"sms_marketing": True, "email_marketing": True})
        for number in range(clients)
    ])
    ConsentEvent.objects.bulk_create([
        ConsentEvent(customer=customer, channel=channel, purpose="marketing", is_granted=True,
                     occurred_at=now - dt.timedelta(days=30), source="crm")
        for customer in customers for channel in ("sms", "email")
    ])
    template = FollowUpTemplate.objects.create(name="Faults: thank you", channel="sms", delay_hours=0)
    variant = FollowUpVariant.objects.create(template=template, label="A", subject="",
                                             body="Dear {{ client.first_name }}, thank you.")
    FollowUp.objects.bulk_create([
        FollowUp(customer=customer, template=template, variant=variant, channel="sms", due_at=now,
                 first_due_at=now, idempotency_key=f"faults:{customer.pk}")
        for customer in customers[:sms]
    ])
    _key, secret = ApiKey.objects.create_key(name="bench faults", scopes=["interactions:write", "customers:read"])
    return boutique, [str(customer.public_id) for customer in customers], template, secret


def _post_batches(base: str, secret: str, batches: list[list[dict]], report: dict) -> None:
    """Post each batch until it is answered 200; a lost answer is posted again, same body, same Idempotency-Key."""
    for number, items in enumerate(batches):
        body = json.dumps({"items": items}).encode()
        request = urllib.request.Request(f"{base}/api/v1/interactions/bulk/", data=body, method="POST", headers={
            "Authorization": f"Api-Key {secret}", "Content-Type": "application/json",
            "Idempotency-Key": f"faults-batch-{number}"})
        while True:
            report["posts"] += 1
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    if response.status == 207:  # some items refused: counted as lost below, not posted again
                        report["failed_answers"]["207"] = report["failed_answers"].get("207", 0) + 1
                    break
            except (urllib.error.URLError, OSError) as error:
                status = getattr(error, "code", None) or type(error).__name__
                report["failed_answers"][str(status)] = report["failed_answers"].get(str(status), 0) + 1
            time.sleep(0.5)
    report["done"] = True


def _terminate_connections() -> int:
    with _server_connection() as server:
        rows = server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DATABASE],
        ).fetchall()
    return len(rows)


def _query(read):
    """A read of the scratch database that survives its connection being terminated under it."""
    from django.db import InterfaceError, OperationalError, connections

    for _ in range(5):
        try:
            return read()
        except (OperationalError, InterfaceError):
            connections.close_all()
            time.sleep(0.5)
    return read()


def main() -> None:  # noqa: PLR0915 (one run, told from top to bottom)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--sms", type=int, default=400)
    parser.add_argument("--deadline", type=float, default=600, help="Seconds to wait for the work to end.")
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()

    from bench.sync_pos import square_orders
    from tests.journeys import fake_sms
    from tests.sync.fakes import FakePos

    provider = fake_sms.FakeSmsProvider()
    sms_server = fake_sms.start(provider)
    pos = FakePos().start()
    scratch = Path(tempfile.mkdtemp(prefix="atelier-faults-"))
    redis = Redis(scratch)
    redis.start()

    # The run's broker, database and fakes are set in the environment before Django starts, for this process and
    # for every child (gunicorn, the workers) alike.
    server_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/atelier"
    database_url = urlsplit(server_url)._replace(path=f"/{DATABASE}").geturl()
    run = uuid.uuid4().hex[:8]
    _environment(redis_port=redis.port, database_url=database_url, prefix=f"bench-faults-{run}", sms_url=provider.url)
    _setup_django()
    version = _recreate_database(DATABASE)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    now = dt.datetime.now(dt.UTC)
    boutique, public_ids, template, secret = _seed(clients=options.clients, sms=options.sms, now=now)

    from sync.models import ConnectorSetting, SyncRun
    from sync.services import connector_setting_save, sync_start

    orders = square_orders("F", boutique.code, options.orders, 1, options.clients)
    pos.add_orders(orders)
    for number in range(options.clients):
        pos.add_customer(f"FC{number:06d}", email_address=f"client{number}@faults.example")
    setting = connector_setting_save(setting=ConnectorSetting(
        name="Faults Square", kind="square_pos", endpoint=pos.url, secret_variable=POS_TOKEN_VARIABLE,
        options={"page_size": options.page_size}, is_enabled=False,
    ))
    setting.boutiques.add(boutique)

    batches = [[{"customer": public_ids[(number * options.batch_size + index) % len(public_ids)],
                 "touchpoint_type": "store_visit", "source": "pos",
                 "occurred_at": (now - dt.timedelta(minutes=index)).isoformat(),
                 "external_id": f"faults-{run}-{number}-{index}"}
                for index in range(options.batch_size)] for number in range(options.batches)]
    port = _free_port()
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120"],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    workers = [Worker(f"bench-faults-{run}-{number}") for number in range(2)]
    faults: list[str] = []
    report = {"posts": 0, "failed_answers": {}, "done": False}
    try:
        _wait_port(port)
        for worker in workers:
            worker.start()
        print(f"PostgreSQL {version}; {options.clients:,} clients; {options.batches} bulk batches of "
              f"{options.batch_size}; {options.orders:,} POS orders; {options.sms} SMS follow-ups; 2 workers",
              flush=True)
        started = time.monotonic()
        loader = threading.Thread(target=_post_batches, args=(f"http://127.0.0.1:{port}", secret, batches, report),
                                  daemon=True)
        loader.start()
        sync_run, _ = sync_start(setting=setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)

        from journeys.models import FollowUp
        from journeys.tasks import followups_dispatch_task
        from sync.tasks import sync_runs_resume_task

        schedule = [(3, "worker"), (8, "redis"), (13, "database")]
        from touchpoints.models import Order

        deadline = started + options.deadline
        last_dispatch = last_progress = 0.0
        while time.monotonic() < deadline:
            elapsed = time.monotonic() - started
            if schedule and elapsed >= schedule[0][0]:
                _at, fault = schedule.pop(0)
                if fault == "worker":
                    workers[0].kill()
                    faults.append(f"t={elapsed:5.1f} s  SIGKILL worker {workers[0].name} (started again 2 s later)")
                    time.sleep(2)
                    workers[0].start()
                elif fault == "redis":
                    redis.restart()
                    faults.append(f"t={elapsed:5.1f} s  Redis restarted")
                else:
                    faults.append(f"t={elapsed:5.1f} s  pg_terminate_backend: {_terminate_connections()} "
                                  "connections to the scratch database")
            if time.monotonic() - last_dispatch >= 2:
                last_dispatch = time.monotonic()
                try:  # what beat would queue; a send while Redis restarts is simply the next one's to make
                    followups_dispatch_task.delay()
                    sync_runs_resume_task.delay()
                except Exception as error:  # noqa: BLE001 (any broker error: the next tick tries again)
                    print(f"  queuing failed at t={elapsed:.1f} s: {type(error).__name__}")

            def pending() -> tuple[bool, int]:
                status = SyncRun.objects.filter(pk=sync_run.pk).values_list("status", flat=True).first()
                due = FollowUp.objects.filter(template=template, status__in=["scheduled", "sending"]).count()
                return status in SyncRun.ACTIVE, due

            sync_active, due = _query(pending)
            if not schedule and report["done"] and not sync_active and due == 0:
                break
            if elapsed - last_progress >= 30:
                last_progress = elapsed
                stored = _query(lambda: Order.objects.filter(boutique=boutique).count())
                print(f"  t={elapsed:5.0f} s  batches posted {report['posts']}, orders stored {stored:,}, "
                      f"SMS follow-ups still due {due}", flush=True)
            time.sleep(0.5)
        elapsed = time.monotonic() - started

        from django.db.models import Count

        from touchpoints.models import Interaction

        def counts() -> dict:
            interactions = Interaction.objects.filter(external_id__startswith=f"faults-{run}-")
            synced = Order.objects.filter(boutique=boutique)
            return {
                "interactions": interactions.count(),
                "interactions_doubled": interactions.values("source", "external_id").annotate(n=Count("pk"))
                .filter(n__gt=1).count(),
                "orders": synced.count(),
                "orders_doubled": synced.values("source", "external_id").annotate(n=Count("pk")).filter(n__gt=1)
                .count(),
                "run": SyncRun.objects.filter(pk=sync_run.pk).values_list("status", flat=True).first(),
                "followups": dict(FollowUp.objects.filter(template=template).values_list("status")
                                  .annotate(n=Count("pk")).order_by()),
            }

        found = _query(counts)
    finally:
        for worker in workers:
            worker.stop()
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        redis.stop()
        pos.stop()
        sms_server.shutdown()

    expected_interactions = options.batches * options.batch_size
    recipients = [message.get("To") for message in provider.messages]
    sms_sent = found["followups"].get("sent", 0)
    # Missing at the end: lost, or (with the deadline reached) not done yet; the sync run's status tells which.
    lost = {
        "interactions": expected_interactions - found["interactions"],
        "orders": options.orders - found["orders"],
        "SMS (follow-ups never sent)": options.sms - sms_sent,
    }
    doubled = {
        "interactions": found["interactions_doubled"],
        "orders": found["orders_doubled"],
        "SMS (a client messaged twice)": len(recipients) - len(set(recipients)),
        "SMS (sent but not at the provider, or the reverse)": abs(len(provider.messages) - sms_sent),
    }
    print("\nfaults")
    for line in faults:
        print(f"  {line}")
    print(f"\nafter {elapsed:.1f} s ({'all work done' if elapsed < options.deadline else 'DEADLINE REACHED'})")
    print(f"  bulk API      {expected_interactions:,} interactions posted in {options.batches} batches, "
          f"{report['posts']} posts (answers lost or refused: {report['failed_answers'] or 'none'}); "
          f"stored {found['interactions']:,}")
    print(f"  POS sync      {options.orders:,} orders at the fake; stored {found['orders']:,}; run {found['run']}")
    print(f"  dispatch      {options.sms} SMS follow-ups: {found['followups']}; at the provider "
          f"{len(provider.messages)} messages from {len(provider.requests)} requests")
    print(f"  missing       {lost}")
    print(f"  doubled       {doubled}")
    if not options.keep:
        _drop_database(DATABASE)
    sys.exit(1 if any(lost.values()) or any(doubled.values()) else 0)


if __name__ == "__main__":
    main()
