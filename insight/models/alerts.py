"""Alerts when a boutique's figures turn: the head office calendar of expected peaks, and the alerts raised."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from customers.models import Boutique


class CalendarPeriod(models.Model):
    """A period head office marks as out of the ordinary (sales, a collection launch, Chinese New Year, Ramadan,
    Golden Week …), for one boutique or, without one, for the whole house. A move on such a day is expected and
    raises no alert; the days are also left out of the history the usual range is measured on."""

    class Kind(models.TextChoices):
        SALES = "sales", "Sales"
        LAUNCH = "launch", "Collection launch"
        HOLIDAY = "holiday", "Holiday or festival"
        CLOSURE = "closure", "Closure"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                 help_text="Empty: every boutique.")
    starts_on = models.DateField()
    ends_on = models.DateField()

    class Meta:
        ordering = ["-starts_on"]
        constraints = [models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")),
                                              name="calendarperiod_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_on:%d %b %Y} – {self.ends_on:%d %b %Y})"


class Alert(models.Model):
    """A watched figure that turned on one day, for one boutique (or the house): the value, the range expected
    after seasonality, who owns it, and where staff are with it."""

    class Kind(models.TextChoices):
        DROP = "drop", "Sudden drop"
        SPIKE = "spike", "Sudden rise"
        DRIFT = "drift", "Slow drift"

    class State(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SNOOZED = "snoozed", "Snoozed"
        DISMISSED = "dismissed", "Dismissed"

    class Owner(models.TextChoices):
        BOUTIQUE_MANAGER = "boutique_manager", "Boutique manager"
        HEAD_OFFICE = "head_office", "Head office"

    metric = models.CharField(max_length=32)
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.FloatField()
    expected = models.FloatField()
    expected_low = models.FloatField()
    expected_high = models.FloatField()
    score = models.FloatField()
    owner = models.CharField(max_length=20, choices=Owner.choices)
    state = models.CharField(max_length=14, choices=State.choices, default=State.NEW)
    snoozed_until = models.DateField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    state_changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["metric", "boutique", "day", "kind"], nulls_distinct=False,
                                    name="alert_one_per_figure_day_kind"),
        ]
        indexes = [models.Index(fields=["metric", "boutique", "-day"], name="alert_figure_day_idx")]

    def __str__(self) -> str:
        where = self.boutique.name if self.boutique_id else "the house"
        return f"{self.get_kind_display()} of {self.metric} at {where} on {self.day:%d %b %Y}"
