"""Syncs through real Celery workers on the real Redis broker, against the fake POS on 127.0.0.1: a full sync, and a
worker killed in the middle of a page and replaced (no loss, no duplicates, exact counts)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from sync.models import SyncRun
from sync.services import sync_runs_resume, sync_start
from tests.sync.conftest import wait_for_run
from tests.sync.fakes import square_order
from touchpoints.models import Interaction, Order, OrderLine

pytestmark = pytest.mark.broker

LOCATION = "PAR-FSH"


def seed(fake_pos, orders: int) -> None:
    fake_pos.add_customer("C1", email_address="client1@example.com")
    fake_pos.add_customer("C2", email_address="client2@example.com")
    for number in range(1, orders + 1):
        fake_pos.add_order(square_order(f"O{number:03d}", customer_id=f"C{number % 2 + 1}", location_id=LOCATION,
                                        updated_at=f"2026-03-01T10:{number:02d}:00Z"))
    fake_pos.visits = [{"id": "V1", "customer_id": "C1", "location_id": LOCATION,
                        "visited_at": "2026-03-01T11:00:00Z"}]


def test_a_full_sync_runs_on_a_real_worker(sync_workers, fake_pos, pos_setting, boutique):
    # Given a POS with 8 orders (pages of 3) and a worker
    seed(fake_pos, 8)
    sync_workers.start()

    # When "sync now" queues the run (on commit, to the broker)
    run, started = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)

    # Then the worker syncs it all
    run = wait_for_run(run)
    assert started
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.pages, run.created, run.updated, run.unchanged, run.rejected, run.attempts) == (4, 9, 0, 0, 0, 1)
    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (8, 24, 9)


@pytest.mark.parametrize("killed", ["the whole worker", "the pool process"])
def test_a_worker_killed_mid_page_is_replaced_and_nothing_is_lost_or_doubled(
    sync_workers, fake_pos, pos_setting, boutique, killed
):
    # Given a POS with 10 orders (4 pages of 3) whose third page the POS holds until told, and a worker
    seed(fake_pos, 10)
    reached, release = fake_pos.gate("POST /v2/orders/search", call=3)
    pool = "solo" if killed == "the whole worker" else "prefork"
    worker = sync_workers.start(pool=pool)
    run, _ = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)

    # When the worker is in the middle of the third page, it is killed (SIGKILL: no goodbye)
    assert reached.wait(60), "the worker never asked for the third page"
    run.refresh_from_db()
    assert (run.status, run.pages, run.created) == (SyncRun.Status.RUNNING, 2, 6)
    if killed == "the whole worker":
        sync_workers.kill(worker)
        # and a new worker starts: Redis gives it the unacknowledged message once its visibility timeout passes
        sync_workers.start()
    else:
        # (the prefork parent sees its child die and rejects the message: redelivered at once, to a new child)
        import os
        import signal
        import subprocess

        children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGKILL)
    release.set()

    # Then the run resumes from the checkpoint of the second page and ends with every order exactly once
    run = wait_for_run(run)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.pages, run.created, run.updated, run.unchanged, run.rejected) == (5, 11, 0, 0, 0)
    assert run.attempts == 2
    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (10, 30, 11)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [f"O{n:03d}" for n in range(1, 11)]
    # The third page was asked for twice (by the killed task, then by its redelivery); the others once.
    assert fake_pos.calls("POST /v2/orders/search") == 5


def test_two_workers_never_work_on_one_connector_and_boutique_at_once(sync_workers, fake_pos, pos_setting, boutique):
    # Given two workers, and a run whose first worker is held on its second page
    from sync.tasks import sync_run_task

    seed(fake_pos, 8)
    reached, release = fake_pos.gate("POST /v2/orders/search", call=2)
    sync_workers.start()
    sync_workers.start()
    run, _ = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)
    assert reached.wait(60)

    # When a second task for the same run reaches the other worker meanwhile
    second = sync_run_task.apply_async(args=[run.pk], queue=sync_workers.queue)

    # Then it finds the lock taken and does nothing
    assert second.get(timeout=60) == "locked"
    release.set()
    run = wait_for_run(run)
    assert (run.status, run.attempts) == (SyncRun.Status.SUCCEEDED, 1)
    assert (run.pages, run.created, run.unchanged) == (4, 9, 0)
    assert (Order.objects.count(), OrderLine.objects.count()) == (8, 24)
    assert fake_pos.calls("POST /v2/orders/search") == 3


def test_a_whole_worker_killed_is_brought_back_by_beats_sweep_within_sync_stalled_minutes(
    sync_workers, fake_pos, pos_setting, boutique, settings
):
    # Given production's broker: an unacknowledged message comes back only after an hour
    seed(fake_pos, 10)
    reached, release = fake_pos.gate("POST /v2/orders/search", call=3)
    worker = sync_workers.start(visibility_timeout=3600)
    run, _ = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)
    assert reached.wait(60), "the worker never asked for the third page"

    # When the whole worker dies mid-page, and another one is running
    sync_workers.kill(worker)
    sync_workers.start(visibility_timeout=3600)
    release.set()
    run.refresh_from_db()
    last_sign_of_life = run.heartbeat_at

    # Then beat's sweep leaves the run alone while it may still be working ...
    stalled = dt.timedelta(minutes=settings.SYNC_STALLED_MINUTES)
    with time_machine.travel(last_sign_of_life + stalled - dt.timedelta(seconds=30), tick=False):
        assert sync_runs_resume() == 0
    # ... and queues it again once it has shown no sign of life for SYNC_STALLED_MINUTES
    with time_machine.travel(last_sign_of_life + stalled + dt.timedelta(seconds=1), tick=False):
        assert sync_runs_resume() == 1

    # And the run ends with every order exactly once, without waiting for the broker's hour
    run = wait_for_run(run, timeout=60)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.pages, run.created, run.updated, run.unchanged, run.rejected, run.attempts) == (5, 11, 0, 0, 0, 2)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [f"O{n:03d}" for n in range(1, 11)]
    assert fake_pos.calls("POST /v2/orders/search") == 5


def test_beat_sweeps_for_stalled_syncs_every_minute():
    # A run is queued again at most a minute after SYNC_STALLED_MINUTES without a sign of life.
    from django.conf import settings as django_settings

    assert django_settings.CELERY_BEAT_SCHEDULE["sync-resume-stalled-runs"] == {
        "task": "sync.tasks.sync_runs_resume_task", "schedule": 60,
    }
