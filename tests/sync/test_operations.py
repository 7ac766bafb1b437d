"""Running syncs: schedules through django-celery-beat, the admin's settings, "sync now" and run log, lost tasks
queued again, and the retry policy's waits."""

from __future__ import annotations

import datetime as dt

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from core.connectors import HttpClient, RetryPolicy, TransientError
from sync.models import ConnectorSetting, SyncRejection, SyncRun
from sync.services import connector_setting_save, sync_runs_resume
from sync.tasks import connector_sync_task
from tests.sync.fakes import square_order
from touchpoints.models import Order

pytestmark = pytest.mark.django_db


def seed(fake_pos, orders: int = 4) -> None:
    fake_pos.add_customer("C1", email_address="client1@example.com")
    for number in range(1, orders + 1):
        fake_pos.add_order(square_order(f"O{number}", customer_id="C1", location_id="PAR-FSH",
                                        updated_at=f"2026-03-01T10:0{number}:00Z"))


def test_a_connector_is_scheduled_in_django_celery_beat_and_disabled_with_it(pos_setting):
    # Given a connector saved every 15 minutes
    task = PeriodicTask.objects.get(pk=pos_setting.periodic_task_id)
    assert (task.task, task.args, task.enabled) == ("sync.tasks.connector_sync_task", f"[{pos_setting.pk}]", True)
    assert (task.interval.every, task.interval.period) == (15, "minutes")

    # When it is set to every 5 minutes and disabled
    pos_setting.schedule_minutes, pos_setting.is_enabled = 5, False
    connector_setting_save(setting=pos_setting)

    # Then its one periodic task follows
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (5, False)
    assert PeriodicTask.objects.filter(task="sync.tasks.connector_sync_task").count() == 1


# Beat's scheduler closes the database connection it finds: the test runs outside a test transaction.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_beat_with_the_database_scheduler_runs_the_connectors_and_the_schedule_in_settings(pos_setting):
    # When beat's DatabaseScheduler starts (make beat)
    scheduler = DatabaseScheduler(app=current_app, lazy=False)

    # Then it holds the connector's sync and every periodic task declared in CELERY_BEAT_SCHEDULE
    names = set(scheduler.schedule)
    assert pos_setting.periodic_task.name in names
    assert set(current_app.conf.beat_schedule) <= names
    assert "sync-resume-stalled-runs" in names


def test_an_unknown_connector_kind_is_refused_with_its_field(db):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        connector_setting_save(setting=ConnectorSetting(name="Mystery", kind="mystery_pos",
                                                        endpoint="https://pos.example"))

    assert refused.value.fields == {"kind": ["No connector is registered under 'mystery_pos'."]}
    assert ConnectorSetting.objects.count() == 0


def test_the_admin_shows_the_secrets_variable_never_its_value(admin_client, pos_setting):
    response = admin_client.get(reverse("admin:sync_connectorsetting_changelist"))
    change = admin_client.get(reverse("admin:sync_connectorsetting_change", args=[pos_setting.pk]))

    assert response.status_code == change.status_code == 200
    for page in (response, change):
        text = page.content.decode()
        assert "TEST_POS_TOKEN (set)" in text
        assert "pos-token" not in text


def test_the_admin_adds_a_connector_through_the_service(admin_client, boutique, fake_pos):
    response = admin_client.post(reverse("admin:sync_connectorsetting_add"), {
        "name": "Square Lyon", "kind": "square_pos", "endpoint": fake_pos.url, "boutiques": [boutique.pk],
        "secret_variable": "SQUARE_LYON_TOKEN", "options": '{"page_size": 50}', "schedule_minutes": "10",
        "is_enabled": "on", "notifies_journeys": "on",
    })

    assert response.status_code == 302
    setting = ConnectorSetting.objects.get(name="Square Lyon")
    assert list(setting.boutiques.all()) == [boutique]
    assert (setting.periodic_task.interval.every, setting.periodic_task.enabled) == (10, True)


def test_sync_now_in_the_admin_runs_the_connector_and_the_run_log_shows_it(
    admin_client, admin_user, fake_pos, pos_setting, boutique, django_capture_on_commit_callbacks
):
    # Given a POS with 4 orders, one of them anonymous
    seed(fake_pos)
    fake_pos.add_order(square_order("ANON", customer_id=None, location_id="PAR-FSH",
                                    updated_at="2026-03-01T10:09:00Z"))

    # When head office picks "Sync now" (tasks run in-process in tests, once the request's transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:sync_connectorsetting_changelist"),
                                     {"action": "sync_now", "_selected_action": [pos_setting.pk]})

    # Then one run was queued and ran, recorded with who asked, and its page lists the refused order
    assert response.status_code == 302
    run = SyncRun.objects.get()
    assert (run.trigger, run.requested_by, run.status) == ("manual", admin_user, SyncRun.Status.SUCCEEDED)
    assert (run.created, run.rejected) == (4, 1)
    assert Order.objects.count() == 4
    page = admin_client.get(reverse("admin:sync_syncrun_change", args=[run.pk])).content.decode()
    assert "An anonymous sale (no customer_id) belongs to no client." in page
    listing = admin_client.get(reverse("admin:sync_syncrun_changelist"))
    assert [shown.pk for shown in listing.context["cl"].result_list] == [run.pk]


def test_a_run_whose_task_was_lost_is_queued_again(fake_pos, pos_setting, boutique, django_capture_on_commit_callbacks):
    # Given a run queued an hour ago whose message never reached a worker
    seed(fake_pos)
    run = SyncRun.objects.create(connector=pos_setting, boutique=boutique, trigger="schedule")
    SyncRun.objects.filter(pk=run.pk).update(queued_at=timezone.now() - dt.timedelta(hours=1))

    # When beat's sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        resumed = sync_runs_resume()

    # Then the run is queued again and completes
    run.refresh_from_db()
    assert (resumed, run.status, run.created) == (1, SyncRun.Status.SUCCEEDED, 4)
    assert SyncRun.objects.count() == 1
    assert SyncRejection.objects.count() == 0


def test_a_429_waits_at_least_its_retry_after_and_backoff_is_bounded(fake_pos):
    # Given a server that rate-limits twice (Retry-After: 2) then answers, and one that always fails
    waits: list[float] = []
    fake_pos.script("GET /v2/visits", (429, 2), (429, 2))
    client = HttpClient(base_url=fake_pos.url, headers={"Authorization": "Bearer t"}, timeout_seconds=1,
                        policy=RetryPolicy(max_attempts=4, base_seconds=0.5, cap_seconds=1), sleep=waits.append)

    # When each is asked
    answer = client.request_json("GET", "/v2/visits", params={"location_id": "PAR-FSH"})
    fake_pos.script("GET /v2/visits", 500, 500, 500, 500)
    with pytest.raises(TransientError) as failed:
        client.request_json("GET", "/v2/visits", params={"location_id": "PAR-FSH"})

    # Then the first waited the server's 2 s (plus at most one base of jitter) each time, and got its page
    assert answer == {"visits": []}
    assert len(waits) == 5
    assert all(2 <= wait <= 2.5 for wait in waits[:2])
    # and the second gave up after 4 attempts, each backoff within the cap (full jitter: 0 to min(cap, base * 2^n))
    assert all(0 <= wait <= 1 for wait in waits[2:])
    assert str(failed.value) == "GET /v2/visits answered 500. Gave up after 4 attempts."
    assert client.retries == 5


def test_a_task_out_of_time_hands_the_rest_of_its_run_to_a_fresh_task(fake_pos, pos_setting, boutique):
    # Given a run, and a task with no time left (tasks run in-process in tests, so the fresh task runs at once)
    seed(fake_pos)
    from sync.services import sync_run_execute, sync_start

    run, _ = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.SCHEDULE)

    # When the task works on it
    outcome = sync_run_execute(run_id=run.pk, time_budget_seconds=0)

    # Then it handed over before its first page, and the fresh task did the whole run once
    run.refresh_from_db()
    assert outcome == "continued"
    assert (run.status, run.attempts, run.pages, run.created) == (SyncRun.Status.SUCCEEDED, 2, 3, 4)
    assert Order.objects.count() == 4


def test_deleting_a_connector_in_the_admin_takes_its_periodic_task_with_it(admin_client, pos_setting, crm_setting):
    # Given two scheduled connectors
    assert PeriodicTask.objects.filter(task="sync.tasks.connector_sync_task").count() == 2

    # When one is deleted from its page and the other with the list's bulk delete
    page = reverse("admin:sync_connectorsetting_delete", args=[pos_setting.pk])
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    listing = reverse("admin:sync_connectorsetting_changelist")
    response = admin_client.post(listing, {"action": "delete_selected", "_selected_action": [crm_setting.pk],
                                           "post": "yes"})
    assert response.status_code == 302

    # Then neither connector nor its schedule is left for beat
    assert ConnectorSetting.objects.count() == 0
    assert PeriodicTask.objects.filter(task="sync.tasks.connector_sync_task").count() == 0


def test_a_schedule_left_by_a_connector_deleted_elsewhere_is_removed_at_its_next_tick(pos_setting):
    # Given a connector deleted without its service (a shell, a cascade), its periodic task left behind
    task_id, connector_id = pos_setting.periodic_task_id, pos_setting.pk
    ConnectorSetting.objects.filter(pk=connector_id).delete()

    # When beat runs that task
    assert connector_sync_task.delay(connector_id).get() == []

    # Then the task is gone, and beat will not run it again
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    assert SyncRun.objects.count() == 0
