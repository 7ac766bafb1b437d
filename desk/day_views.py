"""The day pages a manager opens from the team table (one advisor's day) and head office from the house (one
boutique's day). Out of the viewer's reach, or no such day, is a 404: the page does not tell what exists."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from customers.models import Advisor
from customers.scoping import visible_boutique_ids
from desk.day import AdvisorDay, DayWindow, day_of_advisor, day_of_boutique
from desk.house import day_team


def may_act_on_tasks(*, user, day: AdvisorDay) -> bool:
    """Whether the day's task buttons (outcome, snooze) are for `user`: the advisor on their own day, the boutique's
    manager on any of its days (desk.day.day_task_for_action is the guard; this only keeps useless buttons off)."""
    if day.advisor is not None and day.advisor.user_id == user.pk:
        viewer = day.advisor  # their own day: no second read of their role
    else:
        viewer = Advisor.objects.filter(user=user).first() if not user.is_superuser else None
    if viewer is None or not viewer.is_active or viewer.boutique_id != day.boutique.pk:
        return False
    return viewer.role == Advisor.Role.BOUTIQUE_MANAGER or (day.advisor is not None and day.advisor.pk == viewer.pk)


def day_context(*, request: HttpRequest, day: AdvisorDay, now: dt.datetime | None = None) -> dict:
    """What the day's panels need beside the day: the team of a boutique's day, and whether the buttons show."""
    context = {"day": day, "house_currency": settings.HOUSE_CURRENCY,
               "day_actions": may_act_on_tasks(user=request.user, day=day)}
    if day.is_boutique_wide:
        window = DayWindow.for_boutique(time_zone=day.boutique.timezone, now=now or timezone.now())
        context["team"] = day_team(user=request.user, boutique=day.boutique, window=window)
    return context


def _render(request: HttpRequest, day: AdvisorDay | None, *, title: str, site) -> HttpResponse:
    if day is None:
        raise Http404("No such day within your reach.")
    context = {
        **site.each_context(request),
        **day_context(request=request, day=day),
        "title": title,
        "may_open_boutique": visible_boutique_ids(request.user) is None
        or Advisor.objects.filter(user=request.user, is_active=True, role=Advisor.Role.BOUTIQUE_MANAGER,
                                  boutique=day.boutique).exists(),
    }
    return TemplateResponse(request, "admin/desk/day_page.html", context)


def advisor_day_view(request: HttpRequest, advisor_id: int, *, site) -> HttpResponse:
    day = day_of_advisor(user=request.user, advisor_id=advisor_id)
    return _render(request, day, title=f"{day.advisor}'s day" if day else "", site=site)


def boutique_day_view(request: HttpRequest, boutique_id: int, *, site) -> HttpResponse:
    day = day_of_boutique(user=request.user, boutique_id=boutique_id)
    return _render(request, day, title=f"{day.boutique.name}: the boutique's day" if day else "", site=site)
