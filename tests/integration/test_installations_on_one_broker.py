"""Two Atelier installations on one broker: each has its own queues, and a worker refuses another one's tasks."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from django.conf import settings

from config.celery import app
from config.queues import DATABASE_HEADER, database_identity, queue_name, queue_prefix
from customers.models import Customer
from customers.services import customer_upsert
from tests.conftest import PROJECT_ROOT, Worker, database_url
from touchpoints.tasks import customer_metrics_refresh_task

OTHER_DATABASE = "postgres"  # exists on every server; the other install's worker never touches it here


def _default_queue_of(database_url_: str) -> str:
    """The default queue the settings give an installation on this database, with no CELERY_QUEUE_PREFIX."""
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url_, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "SECRET_KEY": "x" * 60, "CELERY_BROKER_URL": "memory://"}
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CELERY_TASK_DEFAULT_QUEUE)"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def test_installs_on_different_databases_get_different_queues_by_default():
    demo = _default_queue_of("postgres://postgres@127.0.0.1:5432/atelier")
    bench = _default_queue_of("postgres://postgres@127.0.0.1:5432/atelier_bench_api")
    same_name_elsewhere = _default_queue_of("postgres://postgres@127.0.0.1:5433/atelier")

    # Readable name, then a hash of name@host:port.
    assert demo == f"atelier-atelier-{_sha('atelier@127.0.0.1:5432')}.default"
    assert bench == f"atelier-atelier_bench_api-{_sha('atelier_bench_api@127.0.0.1:5432')}.default"
    assert same_name_elsewhere == f"atelier-atelier-{_sha('atelier@127.0.0.1:5433')}.default"
    assert len({demo, bench, same_name_elsewhere}) == 3


def test_celery_queue_prefix_names_every_queue_of_the_installation():
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/atelier",
           "DJANGO_SETTINGS_MODULE": "config.settings.local", "SECRET_KEY": "x" * 60,
           "CELERY_BROKER_URL": "memory://", "CELERY_QUEUE_PREFIX": "paris-prod", "SYNC_TASK_QUEUE": "sync"}
    printed = subprocess.run(
        [sys.executable, "-c",
         "from django.conf import settings; print(settings.CELERY_TASK_DEFAULT_QUEUE, settings.SYNC_TASK_QUEUE)"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()

    assert printed == ["paris-prod.default", "paris-prod.sync"]


def _drifted_client() -> Customer:
    number = uuid.uuid4().hex
    customer = customer_upsert(source="crm", external_id=number, email=f"{number}@example.com").customer
    Customer.objects.filter(pk=customer.pk).update(lifetime_value=1, order_count=9, average_order_value=0)
    return customer


def _refreshes_received(worker: Worker) -> int:
    """The metrics refresh tasks the worker took; anything else it took is the insight rollups' refresh that each
    committed refresh queues on this installation's queue (core.client_changes), never another installation's."""
    received = worker.tasks_received()
    refreshes = received.pop("touchpoints.tasks.customer_metrics_refresh_task", 0)
    assert set(received) <= {"insight.tasks.rollups_refresh_clients_task"}
    return refreshes


@pytest.mark.broker
def test_two_installs_on_one_broker_do_not_run_each_others_tasks(installation_worker, tmp_path):
    # The other installation: its own database, queues derived from it (no prefix given), as in production.
    other_database = {**settings.DATABASES["default"], "NAME": OTHER_DATABASE}
    other = Worker(name=f"test-other-{uuid.uuid4().hex[:12]}", database_url=database_url(other_database),
                   queue_prefix=None, log_path=tmp_path / "other-worker.log").wait_ready()
    try:
        ours = [_drifted_client() for _ in range(3)]

        # This installation's tasks, routed by default: only its own worker may take them.
        results = [customer_metrics_refresh_task.delay(customer.pk) for customer in ours]
        # The other installation's task, as its web process would send it.
        theirs = app.send_task("celery.accumulate", args=(7,),
                               queue=queue_name(queue_prefix(other_database), "default"),
                               headers={DATABASE_HEADER: database_identity(other_database)})

        assert [result.get(timeout=30) for result in results] == [1, 1, 1]
        assert theirs.get(timeout=30) == [7]
        assert _refreshes_received(installation_worker) == 3
        assert other.tasks_received() == {"celery.accumulate": 1}
        assert sorted(Customer.objects.values_list("order_count", flat=True)) == [0, 0, 0]
    finally:
        other.stop()
        app.connection_for_write().default_channel.queue_purge(queue_name(queue_prefix(other_database), "default"))


@pytest.mark.broker
def test_a_task_stamped_for_another_database_is_refused_by_the_worker(installation_worker, celery_worker):
    refused_client, served_client = _drifted_client(), _drifted_client()
    foreign = f"atelier_other@{settings.DATABASES['default']['HOST'] or 'localhost'}:5432"

    refused = customer_metrics_refresh_task.apply_async(args=[refused_client.pk], queue=celery_worker,
                                                        headers={DATABASE_HEADER: foreign})
    served = customer_metrics_refresh_task.apply_async(args=[served_client.pk], queue=celery_worker)

    # One worker, one task at a time, in order: once the second has run, the first has been dealt with.
    assert served.get(timeout=30) == 1
    refused_client.refresh_from_db()
    assert (refused_client.lifetime_value, refused_client.order_count) == (Decimal("1.00"), 9)
    # Both reached the worker; one was refused before its body ran, the other ran.
    assert _refreshes_received(installation_worker) == 2
    ours = database_identity(settings.DATABASES["default"])
    assert installation_worker.output().count("celery.task_refused") == 1
    assert (f"celery.task_refused task=touchpoints.tasks.customer_metrics_refresh_task task_id={refused.id} "
            f"sent_for={foreign} database={ours}") in installation_worker.output()
    # Dropped, not given back to the queue for some worker to take again.
    with app.connection_for_write() as connection:
        assert connection.default_channel.client.llen(celery_worker) == 0
