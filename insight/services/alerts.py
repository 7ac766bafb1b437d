"""Alerts' writes: the daily evaluation of every watched figure, and staff acknowledging, snoozing or dismissing.

The evaluation reads each figure as a daily series (insight.selectors_alerts), runs the detector
(insight.foresight.alerts) on the last day, and keeps a finding only when the figure is not cooling down (an alert
for it in the last ALERT_COOLDOWN_DAYS), not snoozed, and not a pattern staff dismissed in the last
ALERT_DISMISS_SUPPRESS_DAYS. `alerts_find` does all of that without writing, for the backtest; `alerts_evaluate`
writes what it finds (one INSERT, the unique (figure, boutique, day, kind) making a rerun harmless) and emails the
owners after the commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Advisor
from insight.foresight import alerts as detector
from insight.models import Alert
from insight.selectors_alerts import FIGURES, calendar_marks, figure_series

logger = logging.getLogger(__name__)

# Days of history read for each evaluated day: a year for the noise and the drift's year-on-year netting.
HISTORY_DAYS = 365 + detector.DRIFT_SPAN + detector.DRIFT_WINDOW + 7


@dataclass(frozen=True)
class FoundAlert:
    """An alert the evaluation would raise (written or, in a backtest, only listed)."""

    metric: str
    boutique_id: int | None
    day: dt.date
    finding: detector.Finding

    @property
    def owner(self) -> str:
        return Alert.Owner.BOUTIQUE_MANAGER if self.boutique_id else Alert.Owner.HEAD_OFFICE


def _held_back(*, metric: str, boutique_id: int | None, day: dt.date, kind: str, earlier: list) -> bool:
    """Whether an alert already raised (in the database, or earlier in this replay) keeps this one quiet."""
    cooldown = dt.timedelta(days=settings.ALERT_COOLDOWN_DAYS)
    suppress = dt.timedelta(days=settings.ALERT_DISMISS_SUPPRESS_DAYS)
    for alert in earlier:
        if alert.metric != metric or alert.boutique_id != boutique_id or alert.day >= day:
            continue
        if day - alert.day < cooldown:
            return True
        state = getattr(alert, "state", Alert.State.NEW)
        if state == Alert.State.SNOOZED and alert.snoozed_until and alert.snoozed_until >= day:
            return True
        if state == Alert.State.DISMISSED and alert.kind == kind and day - alert.day < suppress:
            return True
    return False


def alerts_find(*, days: list[dt.date], write_earlier: bool = True) -> list[FoundAlert]:
    """The alerts that fire on each of `days` (oldest first), in order, each held back by the ones before it (and by
    those in the database). Reads each figure once for the whole span; writes nothing."""
    if not days:
        return []
    first_day = days[0] - dt.timedelta(days=HISTORY_DAYS)
    series = figure_series(first_day=first_day, last_day=days[-1])
    marks = calendar_marks(first_day=first_day, last_day=days[-1])
    span = (days[-1] - first_day).days + 1
    window = max(settings.ALERT_COOLDOWN_DAYS, settings.ALERT_DISMISS_SUPPRESS_DAYS)
    earlier: list = list(Alert.objects.filter(day__gte=days[0] - dt.timedelta(days=window), day__lte=days[-1]))
    found: list[FoundAlert] = []
    for day in days:
        end = (day - first_day).days + 1
        for (metric, boutique_id), values in series.items():
            figure = FIGURES[metric]
            house_marks = marks.get(None)
            marked = house_marks.copy() if house_marks is not None else None
            if boutique_id in marks:
                marked = marks[boutique_id] if marked is None else (marked | marks[boutique_id])
            if marked is None:
                marked = np.zeros(span, bool)
            history = values[:end]
            # A boutique that has not opened yet (or a figure not yet counted) has no history: nothing to compare.
            started = next((index for index, value in enumerate(history) if value), len(history))
            findings = detector.evaluate(history[started:], marked=marked[started:end], directions=figure.directions,
                                         floor=figure.floor)
            for finding in findings:
                if _held_back(metric=metric, boutique_id=boutique_id, day=day, kind=finding.kind, earlier=earlier):
                    continue
                alert = FoundAlert(metric=metric, boutique_id=boutique_id, day=day, finding=finding)
                found.append(alert)
                earlier.append(alert)
    return found


def _recipients(alert: Alert) -> list[str]:
    staff = Advisor.objects.filter(is_active=True).select_related("user").exclude(user__email="")
    if alert.boutique_id:
        staff = staff.filter(role=Advisor.Role.BOUTIQUE_MANAGER, boutique_id=alert.boutique_id)
    else:
        staff = staff.filter(role=Advisor.Role.HEAD_OFFICE)
    return sorted({advisor.user.email for advisor in staff})


def alert_sentence(alert: Alert) -> str:
    """The alert as the email and the inbox say it: the figure, where, the value and the expected range."""
    where = alert.boutique.name if alert.boutique_id else "the house"
    label = FIGURES[alert.metric].label if alert.metric in FIGURES else alert.metric
    return (f"{label} at {where} on {alert.day:%d %b %Y}: {alert.value:,.2f}, expected {alert.expected_low:,.2f} to "
            f"{alert.expected_high:,.2f} ({alert.get_kind_display().lower()}).")


def alert_link(alert: Alert) -> str:
    """Where the slice is read: the alert inbox filtered on this figure and boutique."""
    query = f"metric={alert.metric}" + (f"&boutique__id__exact={alert.boutique_id}" if alert.boutique_id else "")
    return f"{settings.PUBLIC_BASE_URL}/admin/insight/alert/?{query}"


def _notify(alert_ids: list[int]) -> None:
    for alert in Alert.objects.filter(pk__in=alert_ids).select_related("boutique"):
        recipients = _recipients(alert)
        if recipients:
            send_mail(f"Atelier alert: {alert}", f"{alert_sentence(alert)}\n\n{alert_link(alert)}",
                      settings.DEFAULT_FROM_EMAIL, recipients)


@transaction.atomic
def alerts_evaluate(*, day: dt.date | None = None) -> list[Alert]:
    """Evaluate every watched figure on `day` (yesterday, the last whole day, by default), write the alerts that fire
    and email their owners once committed. Running it twice for a day writes nothing more."""
    day = day or (timezone.now().astimezone(dt.UTC).date() - dt.timedelta(days=1))
    found = alerts_find(days=[day])
    existing = set(Alert.objects.filter(day=day).values_list("pk", flat=True))
    Alert.objects.bulk_create(
        [
            Alert(metric=item.metric, boutique_id=item.boutique_id, day=item.day, kind=item.finding.kind,
                  value=float(item.finding.value), expected=float(item.finding.expected),
                  expected_low=float(item.finding.low), expected_high=float(item.finding.high),
                  score=float(item.finding.score), owner=item.owner)
            for item in found
        ],
        ignore_conflicts=True,
    )
    new = sorted(set(Alert.objects.filter(day=day).values_list("pk", flat=True)) - existing)
    if new:
        transaction.on_commit(lambda: _notify(new))
    logger.info("insight.alerts_evaluated day=%s alerts=%s", day, len(new))
    return list(Alert.objects.filter(day=day).order_by("pk"))


def _change(alert: Alert, *, state: str, actor, snoozed_until: dt.date | None = None) -> Alert:
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    locked.state, locked.snoozed_until = state, snoozed_until
    locked.state_changed_at, locked.state_changed_by = timezone.now(), actor
    locked.save(update_fields=["state", "snoozed_until", "state_changed_at", "state_changed_by"])
    return locked


@transaction.atomic
def alert_acknowledge(*, alert: Alert, actor) -> Alert:
    """Someone owns it now: the alert stays, marked acknowledged, with who and when."""
    return _change(alert, state=Alert.State.ACKNOWLEDGED, actor=actor)


@transaction.atomic
def alert_snooze(*, alert: Alert, actor, until: dt.date) -> Alert:
    """Quiet until `until`: the figure raises nothing new before then."""
    if until <= alert.day:
        raise ApplicationError.for_field("until", "Snooze until a day after the alert's.")
    return _change(alert, state=Alert.State.SNOOZED, actor=actor, snoozed_until=until)


@transaction.atomic
def alert_dismiss(*, alert: Alert, actor) -> Alert:
    """Not a problem: the same kind of alert on the same figure stays quiet for ALERT_DISMISS_SUPPRESS_DAYS."""
    return _change(alert, state=Alert.State.DISMISSED, actor=actor)

