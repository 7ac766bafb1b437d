"""The sync engine: starting runs (one at a time per connector and boutique), and running them page by page.

A page is: fetch it (HTTP, with bounded retries; no transaction open) → in one transaction, write each record
through the owning app's services in a savepoint of its own (a refused record is logged with its reason and the
page goes on), log the refused ones, advance the cursor and the run's counts. A worker that dies before the commit
leaves nothing of the page behind, and its redelivered task fetches the same page again from the stored cursor;
the writes are idempotent (orders and interactions by source and external id, clients by identity), so a page
written twice is counted as unchanged the second time and doubles nothing.

Only one task works on a connector and boutique at a time: it holds a PostgreSQL advisory lock, which dies with its
database session (so a killed worker never leaves a stale lock), and the run log allows one active run per pair.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pghistory
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from core.connectors import (
    RECORD_ERRORS,
    Connector,
    ConnectorError,
    HttpClient,
    MalformedPage,
    Outcome,
    Page,
    PermanentError,
    RecordRejected,
    RetryPolicy,
    connector_class,
)
from core.errors import ApplicationError
from customers.models import Boutique
from sync.models import ConnectorSetting, SyncCursor, SyncRejection, SyncRun
from touchpoints.events import listeners_paused

logger = logging.getLogger(__name__)

Status = SyncRun.Status


# --- settings and schedules ------------------------------------------------------------------------------------------


@transaction.atomic
def connector_setting_save(*, setting: ConnectorSetting) -> ConnectorSetting:
    """Validate and save a connector's settings, and keep its periodic task (django-celery-beat) in step: every
    `schedule_minutes`, enabled with the connector."""
    try:
        connector_class(setting.kind)
    except PermanentError as error:
        raise ApplicationError.for_field("kind", str(error)) from None
    setting.full_clean(exclude=["boutiques"])
    setting.save()
    interval, _ = IntervalSchedule.objects.get_or_create(every=setting.schedule_minutes,
                                                         period=IntervalSchedule.MINUTES)
    task = setting.periodic_task or PeriodicTask(name=f"sync: {setting.name} (#{setting.pk})")
    task.name = f"sync: {setting.name} (#{setting.pk})"
    task.task = SYNC_TASK_NAME
    task.args = f"[{setting.pk}]"
    task.interval, task.crontab = interval, None
    task.enabled = setting.is_enabled
    task.queue = settings.SYNC_TASK_QUEUE
    task.save()
    if setting.periodic_task_id != task.pk:
        setting.periodic_task = task
        setting.save(update_fields=["periodic_task", "updated_at"])
    return setting


SYNC_TASK_NAME = "sync.tasks.connector_sync_task"


@transaction.atomic
def connector_setting_delete(*, setting: ConnectorSetting) -> None:
    """Delete a connector with its periodic task, so that beat stops scheduling it (its runs, cursors and
    rejections go with it, by cascade)."""
    connector_id = setting.pk
    setting.delete()
    connector_schedule_remove(connector_id=connector_id)
    logger.info("sync.connector_deleted connector_id=%s", connector_id)


def connector_schedule_remove(*, connector_id: int) -> int:
    """Remove the periodic tasks that sync the connector `connector_id` (after it was deleted; beat's own tick of
    a connector deleted some other way calls it too). Returns how many were removed."""
    # Deleted row by row (QuerySet.delete sends django-celery-beat's signals), so beat reloads its schedule.
    removed, _ = PeriodicTask.objects.filter(task=SYNC_TASK_NAME, args=f"[{connector_id}]").delete()
    return removed


def connector_secret(setting: ConnectorSetting) -> str:
    """The connector's secret from the environment variable its settings name (never stored, never shown)."""
    if not setting.secret_variable:
        return ""
    secret = os.environ.get(setting.secret_variable, "")
    if not secret:
        raise PermanentError(f"The environment variable {setting.secret_variable} is not set: "
                             f"the connector {setting.name!r} has no access token.")
    return secret


def connector_build(setting: ConnectorSetting, boutique: Boutique | None) -> Connector:
    """An instance of the setting's connector class for one run, with its HTTP client (time-out, retry policy)."""
    cls = connector_class(setting.kind)
    options = {**cls.default_options, **(setting.options or {})}
    policy = RetryPolicy(
        max_attempts=int(options.get("max_attempts", 5)),
        base_seconds=float(options.get("retry_base_seconds", 0.5)),
        cap_seconds=float(options.get("retry_cap_seconds", 30)),
        retry_after_cap_seconds=float(options.get("retry_after_cap_seconds", 120)),
    )
    secret = connector_secret(setting)
    http = HttpClient(base_url=setting.endpoint, headers=cls.auth_headers(secret),
                      timeout_seconds=float(options.get("timeout_seconds", 30)), policy=policy)
    return cls(endpoint=setting.endpoint, secret=secret, options=options, boutique=boutique, http=http)


# --- starting runs ---------------------------------------------------------------------------------------------------


def _queue_run(run_id: int) -> None:
    from sync.tasks import sync_run_task  # the tasks module imports this one

    sync_run_task.apply_async(args=[run_id], queue=settings.SYNC_TASK_QUEUE)


@transaction.atomic
def sync_start(
    *, setting: ConnectorSetting, boutique: Boutique | None, trigger: str,
    requested_by: AbstractBaseUser | None = None,
) -> tuple[SyncRun, bool]:
    """Queue a run of the connector for the boutique (None: house-wide), unless one is queued or running: then that
    one is returned (started=False), and queued again if its task has shown no sign of life for
    SYNC_STALLED_MINUTES (its lock tells the new task whether the old one still works)."""
    setting = ConnectorSetting.objects.select_for_update().get(pk=setting.pk)
    if not connector_class(setting.kind).is_per_boutique:
        boutique = None
    active = SyncRun.objects.filter(connector=setting, boutique=boutique, status__in=SyncRun.ACTIVE).first()
    if active is not None:
        stalled_since = timezone.now() - dt.timedelta(minutes=settings.SYNC_STALLED_MINUTES)
        if (active.heartbeat_at or active.queued_at) < stalled_since:
            SyncRun.objects.filter(pk=active.pk).update(heartbeat_at=timezone.now())
            transaction.on_commit(lambda: _queue_run(active.pk))
            logger.warning("sync.run_requeued run_id=%s", active.pk)
        return active, False
    run = SyncRun.objects.create(connector=setting, boutique=boutique, trigger=trigger, requested_by=requested_by,
                                 notifies_journeys=setting.notifies_journeys)
    transaction.on_commit(lambda: _queue_run(run.pk))
    logger.info("sync.run_queued run_id=%s connector_id=%s boutique_id=%s trigger=%s", run.pk, setting.pk,
                getattr(boutique, "pk", None), trigger)
    return run, True


def connector_sync(*, setting: ConnectorSetting, trigger: str,
                   requested_by: AbstractBaseUser | None = None) -> list[SyncRun]:
    """Start a run for each boutique of the connector (one house-wide run for a house-wide connector). Returns
    the runs started or already under way. A disabled connector starts nothing on its schedule."""
    if trigger == SyncRun.Trigger.SCHEDULE and not setting.is_enabled:
        return []
    if connector_class(setting.kind).is_per_boutique:
        boutiques: list[Boutique | None] = list(setting.boutiques.order_by("code"))
    else:
        boutiques = [None]
    return [sync_start(setting=setting, boutique=boutique, trigger=trigger, requested_by=requested_by)[0]
            for boutique in boutiques]


def sync_runs_resume() -> int:
    """Queue again the active runs whose task has shown no sign of life for SYNC_STALLED_MINUTES (a lost message).
    A run still worked on keeps its lock, so the extra task returns at once."""
    stalled_since = timezone.now() - dt.timedelta(minutes=settings.SYNC_STALLED_MINUTES)
    resumed = 0
    for run in SyncRun.objects.filter(status__in=SyncRun.ACTIVE).select_related("connector", "boutique"):
        if (run.heartbeat_at or run.queued_at) < stalled_since:
            sync_start(setting=run.connector, boutique=run.boutique, trigger=run.trigger)
            resumed += 1
    return resumed


# --- running ---------------------------------------------------------------------------------------------------------


def lock_key(connector_id: int, boutique_id: int | None) -> int:
    """A signed 64-bit advisory-lock key of its own for one connector and boutique."""
    digest = hashlib.blake2b(f"atelier.sync:{connector_id}:{boutique_id or 0}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def sync_lock(connector_id: int, boutique_id: int | None) -> Iterator[bool]:
    """Try the session advisory lock of a connector and boutique; yields whether this session holds it. PostgreSQL
    drops it with the session, so a worker that dies mid-run leaves no lock behind."""
    key = lock_key(connector_id, boutique_id)
    with connection.cursor() as cursor:
        # A worker whose machine vanishes (no FIN, no RST) would keep this session, and the lock, for as long as
        # PostgreSQL's TCP keepalive takes (two hours by default): beat's sweep would queue the run again in vain.
        # Silent for 20 + 3 × 10 s, or with data unacknowledged for 60 s, the session is dropped and the lock freed,
        # well within SYNC_STALLED_MINUTES. (No effect over a Unix socket, where no machine can vanish.)
        cursor.execute("SET tcp_keepalives_idle = 20; SET tcp_keepalives_interval = 10; "
                       "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 60000")
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except Exception:  # the session is gone: so is its lock
                logger.warning("sync.unlock_failed connector_id=%s boutique_id=%s", connector_id, boutique_id)


def sync_run_execute(*, run_id: int, time_budget_seconds: float | None = None) -> str:
    """Work on a run until it ends or the time budget runs out (then a fresh task takes the rest). Returns the
    run's status, "locked" when another task holds the run's lock, or "missing".

    Never raises for what the outside system does: a failure that outlasts the retries, a refusal or an unreadable
    page ends the run as failed with the reason, its cursor at the last page written; the next run resumes there.
    """
    run = SyncRun.objects.filter(pk=run_id).select_related("connector", "boutique").first()
    if run is None:
        return "missing"
    if run.status not in SyncRun.ACTIVE:
        return run.status
    budget = settings.SYNC_TASK_SECONDS if time_budget_seconds is None else time_budget_seconds
    deadline = time.monotonic() + budget
    with sync_lock(run.connector_id, run.boutique_id) as acquired:
        if not acquired:
            logger.info("sync.run_locked run_id=%s", run.pk)
            return "locked"
        run.refresh_from_db()
        if run.status not in SyncRun.ACTIVE:
            return run.status
        now = timezone.now()
        SyncRun.objects.filter(pk=run.pk).update(status=Status.RUNNING, started_at=run.started_at or now,
                                                 heartbeat_at=now, attempts=F("attempts") + 1)
        try:
            connector = connector_build(run.connector, run.boutique)
        except ConnectorError as error:
            return _finish(run, Status.FAILED, str(error))
        try:
            outcome = _run_streams(run, connector, deadline)
        except (OperationalError, InterfaceError):
            raise  # the database itself failed: the task retries, and resumes at the last checkpoint
        except Exception as error:
            # A defect met on some input: the run ends failed with the reason (the page's writes rolled back), the
            # worker goes on with its next task.
            logger.exception("sync.run_crashed run_id=%s", run.pk)
            outcome = _finish(run, Status.FAILED, f"Unexpected error: {type(error).__name__}: {error}")
        finally:
            connector.http.close()
    if outcome == "continued":
        # Handed over rather than looped on, once the lock is released: a task stays shorter than the broker's
        # visibility timeout and the hard time limit.
        _queue_run(run.pk)
    return outcome


def _run_streams(run: SyncRun, connector: Connector, deadline: float) -> str:
    for stream in connector.streams:
        if stream in run.streams_done:
            continue
        cursor, _ = SyncCursor.objects.get_or_create(connector_id=run.connector_id, boutique=run.boutique,
                                                     stream=stream)
        while True:
            if time.monotonic() > deadline:
                logger.info("sync.run_continued run_id=%s stream=%s", run.pk, stream)
                return "continued"
            retries_before = connector.http.retries
            try:
                page = connector.fetch(stream, dict(cursor.value))
            except MalformedPage as error:
                _reject_page(run, stream, str(error), error.body)
                return _finish(run, Status.FAILED, f"{stream}: {error}")
            except ConnectorError as error:
                SyncRun.objects.filter(pk=run.pk).update(retries=F("retries") + connector.http.retries - retries_before)
                return _finish(run, Status.FAILED, f"{stream}: {error}")
            if not page.is_last and page.next_cursor == cursor.value:
                # A server that hands back the cursor it was given would keep this run asking forever.
                _reject_page(run, stream, "The page's next cursor is the one it was asked with.", "")
                return _finish(run, Status.FAILED, f"{stream}: the POS or CRM returned the same cursor again.")
            cursor, written = _write_page(run, connector, stream, cursor, page, connector.http.retries - retries_before)
            if written and page.is_last:
                run.streams_done = [*run.streams_done, stream]
                SyncRun.objects.filter(pk=run.pk).update(streams_done=run.streams_done)
                break
    return _finish(run, Status.SUCCEEDED, "")


@contextmanager
def _journey_notifications(run: SyncRun) -> Iterator[None]:
    """A run that must not reach the journey rules (a historical backfill: run.notifies_journeys False) records its
    pages with touchpoints.events' listeners paused: the history lands, no rule moves anyone, no message goes."""
    if run.notifies_journeys:
        yield
        return
    with listeners_paused():
        yield


def _write_page(run: SyncRun, connector: Connector, stream: str, cursor: SyncCursor, page: Page,
                retries: int) -> tuple[SyncCursor, bool]:
    """Write one fetched page and its checkpoint in one transaction; returns the cursor as stored, and whether the
    page was written (not when its cursor moved meanwhile)."""
    counts: Counter[str] = Counter()
    rejections: list[SyncRejection] = []
    with transaction.atomic(), _journey_notifications(run), pghistory.context(
        source="sync", sync_run=run.pk, connector=run.connector.kind
    ):
        stored = SyncCursor.objects.select_for_update().get(pk=cursor.pk)
        if stored.value != cursor.value:
            # Moved under us (only possible without the lock, e.g. an operator's edit): this page is stale.
            logger.warning("sync.page_skipped run_id=%s stream=%s reason=cursor_moved", run.pk, stream)
            return stored, False
        for record, outcome in zip(page.records, connector.record_page(stream, page), strict=True):
            if isinstance(outcome, Exception):
                rejections.append(_rejection(run, connector, stream, record, outcome))
                _remember_rejection(run, connector, stream, record, outcome)
                continue
            counts[Outcome(outcome)] += 1
        SyncRejection.objects.bulk_create(rejections)
        stored.value = page.next_cursor
        stored.save(update_fields=["value", "updated_at"])
        SyncRun.objects.filter(pk=run.pk).update(
            pages=F("pages") + 1,
            created=F("created") + counts[Outcome.CREATED],
            updated=F("updated") + counts[Outcome.UPDATED],
            unchanged=F("unchanged") + counts[Outcome.UNCHANGED],
            rejected=F("rejected") + len(rejections),
            retries=F("retries") + retries,
            heartbeat_at=timezone.now(),
        )
    logger.info("sync.page_written run_id=%s stream=%s records=%s rejected=%s", run.pk, stream, len(page.records),
                len(rejections))
    return stored, True


def _remember_rejection(run: SyncRun, connector: Connector, stream: str, record: Any, error: Exception) -> None:
    """The connector's own note of a refusal, in a savepoint: a failure there costs the note, not the page."""
    try:
        with transaction.atomic():
            connector.rejected(stream, record, error)
    except RECORD_ERRORS:
        logger.warning("sync.rejection_not_remembered run_id=%s stream=%s", run.pk, stream)


def _rejection(run: SyncRun, connector: Connector, stream: str, record: Any, error: Exception) -> SyncRejection:
    if isinstance(error, RecordRejected):
        reason, errors = error.message, error.field_errors
    elif isinstance(error, ApplicationError):
        reason, errors = error.message, error.fields
    elif isinstance(error, DataError | IntegrityError):
        reason, errors = "A value does not fit the database (out of range or conflicting).", {}
    else:
        # A record shaped in a way the mapping did not foresee: refused, the worker goes on.
        reason, errors = f"Unreadable record ({type(error).__name__}: {error}).", {}
    logger.info("sync.record_rejected run_id=%s stream=%s reason=%s", run.pk, stream, type(error).__name__)
    return SyncRejection(run=run, stream=stream, external_id=connector.record_key(stream, record), reason=reason,
                         errors=errors, record=_storable(record))


def _storable(record: Any) -> Any:
    """The record as received, as JSON PostgreSQL takes (jsonb refuses the NUL character)."""
    import json

    return json.loads(json.dumps(record, default=str).replace("\\u0000", "\\ufffd"))


def _reject_page(run: SyncRun, stream: str, reason: str, body: str) -> None:
    SyncRejection.objects.create(run=run, stream=stream, reason=reason, is_page=True,
                                 record={"body": body.replace("\x00", "\ufffd")})
    SyncRun.objects.filter(pk=run.pk).update(rejected=F("rejected") + 1)


def _finish(run: SyncRun, status: str, error: str) -> str:
    SyncRun.objects.filter(pk=run.pk).update(status=status, error=error, finished_at=timezone.now(),
                                             heartbeat_at=timezone.now())
    log = logger.warning if status == Status.FAILED else logger.info
    log("sync.run_finished run_id=%s status=%s", run.pk, status)
    return status
