"""The advisor's one click on a task of their day: its outcome (reached, no answer, declined, sale), or a snooze.

Small POST forms on the day page (CSRF-protected by the admin), each calling one journeys service; the task is
loaded through desk.day.day_task_for_action, so another advisor's or another boutique's task is a 404.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse

from core.errors import ApplicationError
from desk.day import day_task_for_action
from journeys.models import FollowUp
from journeys.services import followup_record_outcome, followup_snooze

# Who may close a task: the advisor roles hold it (customers migration 0004: "record the outcome of a task").
TASK_PERMISSION = "journeys.change_followup"


def _task(request: HttpRequest, followup_id: int) -> FollowUp:
    if not request.user.has_perm(TASK_PERMISSION):
        raise PermissionDenied
    task = day_task_for_action(user=request.user, followup_id=followup_id)
    if task is None:
        raise Http404("No such task on your day.")
    return task


def _back_to_day(site_name: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse(f"{site_name}:index") + "#day-tasks")


def task_outcome_view(request: HttpRequest, followup_id: int, *, site_name: str) -> HttpResponseRedirect:
    task = _task(request, followup_id)
    outcome = request.POST.get("outcome", "")
    try:
        followup_record_outcome(followup=task, outcome=outcome, actor=request.user,
                                note=request.POST.get("note", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{task.customer}: {FollowUp.Outcome(outcome).label.lower()}. The task is done.")
    return _back_to_day(site_name)


def task_snooze_view(request: HttpRequest, followup_id: int, *, site_name: str) -> HttpResponseRedirect:
    task = _task(request, followup_id)
    advisor = request.user.advisor
    zone = zoneinfo.ZoneInfo(advisor.boutique.timezone)
    try:
        # The form's datetime-local is the boutique's clock, as the day page itself.
        until = dt.datetime.fromisoformat(request.POST.get("until", "")).replace(tzinfo=zone)
    except ValueError:
        messages.error(request, "Give the date and time to snooze the task to.")
        return _back_to_day(site_name)
    try:
        followup_snooze(followup=task, until=until, actor=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{task.customer}: snoozed until {until:%d %b %H:%M}.")
    return _back_to_day(site_name)
