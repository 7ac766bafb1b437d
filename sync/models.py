"""Sync settings, cursors and the run log: which outside system, where, for which boutiques, and what each run did."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from customers.models import Boutique

SECRET_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")


def validate_secret_variable(value: str) -> None:
    if value and not SECRET_VARIABLE.fullmatch(value):
        raise ValidationError(f"{value!r} is not an environment variable name (capitals, digits, underscores).")


class ConnectorSetting(TimeStampedModel):
    """One configured outside system: which connector class, its endpoint, the boutiques it serves, its schedule.

    The secret is never stored: `secret_variable` names the environment variable that holds it.
    """

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=40, help_text="The connector class (its key), e.g. square_pos or house_crm.")
    endpoint = models.URLField(max_length=300, help_text="Base URL of the system's API.")
    boutiques = models.ManyToManyField(
        Boutique, blank=True, related_name="connector_settings",
        help_text="The boutiques a POS syncs (one run each). Ignored by house-wide connectors such as the CRM.",
    )
    secret_variable = models.CharField(
        max_length=100, blank=True, validators=[validate_secret_variable],
        help_text="Name of the environment variable holding the access token (the token itself is never stored).",
    )
    options = models.JSONField(default=dict, blank=True,
                               help_text='Connector options, e.g. {"page_size": 100, "timeout_seconds": 30}.')
    schedule_minutes = models.PositiveIntegerField(default=15, help_text="Run every this many minutes.")
    is_enabled = models.BooleanField(default=True)
    notifies_journeys = models.BooleanField(
        default=True,
        help_text="Recorded touchpoints go through the journey rules. A historical backfill may turn this off.",
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, editable=False, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "connector"
        constraints = [models.CheckConstraint(condition=Q(schedule_minutes__gte=1), name="connector_schedule_set")]

    def __str__(self) -> str:
        return self.name


class SyncCursor(models.Model):
    """How far a connector got in one stream for one boutique: the checkpoint written with each page's records."""

    connector = models.ForeignKey(ConnectorSetting, on_delete=models.CASCADE, related_name="cursors")
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    stream = models.CharField(max_length=40)
    value = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "boutique", "stream"], nulls_distinct=False,
                                    name="sync_cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.connector} {self.boutique or 'house'} {self.stream}"


class SyncRun(models.Model):
    """One sync of one connector for one boutique (or house-wide): when, what it did, and how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Sync now"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    connector = models.ForeignKey(ConnectorSetting, on_delete=models.CASCADE, related_name="runs")
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last page written or last (re)start.")
    streams_done = models.JSONField(default=list, blank=True)
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0, help_text="HTTP requests tried again after a transient failure.")
    attempts = models.PositiveIntegerField(default=0, help_text="Tasks that worked on this run (redeliveries too).")
    error = models.TextField(blank=True)
    # Copied from the connector when the run starts: where a backfill says its touchpoints skip the journey rules.
    notifies_journeys = models.BooleanField(default=True)

    class Meta:
        ordering = ["-queued_at", "-pk"]
        permissions = [("sync_now", "Can start a sync now")]
        constraints = [
            # One sync per connector and boutique at a time: a second start finds the first.
            models.UniqueConstraint(fields=["connector", "boutique"], condition=Q(status__in=["queued", "running"]),
                                    nulls_distinct=False, name="sync_run_one_active"),
        ]
        indexes = [models.Index(fields=["connector", "-queued_at"], name="sync_run_connector_idx")]

    def __str__(self) -> str:
        return f"{self.connector} {self.boutique or 'house'} #{self.pk}"


class SyncRejection(models.Model):
    """A record (or a whole page) a run could not write, with the reason and the record as received."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="rejections")
    stream = models.CharField(max_length=40)
    external_id = models.CharField(max_length=160, blank=True)
    reason = models.TextField()
    errors = models.JSONField(default=dict, blank=True)
    record = models.JSONField(null=True, blank=True)
    is_page = models.BooleanField(default=False, help_text="The whole page was unreadable; the run stopped there.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.stream} {self.external_id or '?'}: {self.reason[:60]}"
