"""Atelier's admin site: the back office staff log into, whose landing page is the advisor's day."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import path
from django.views.decorators.http import require_POST

from core.admin_actions import ActionSelectionCheckMixin
from customers.scoping import visible_boutique_ids
from desk.day import advisor_day
from desk.day_actions import task_outcome_view, task_snooze_view
from desk.day_views import advisor_day_view, boutique_day_view, day_context
from desk.house import house_boutiques


class AtelierAdminSite(admin.AdminSite):
    """The admin index shows an advisor their day, a boutique manager the boutique's day with the team's tasks,
    and head office (and superusers) the house, every boutique with its figures, above the usual list of apps.

    One page rather than a redirect to a separate day page: the index is where the admin sends staff after login
    and where every breadcrumb's "Home" leads, so the day is always one click away, and the apps (clients,
    journeys, feedback) stay on the same page below it instead of behind a link. From the team table and the house
    a manager or head office opens one advisor's or one boutique's day (desk.day_views).
    """

    site_header = "Atelier"
    site_title = "Atelier clienteling"
    index_title = "Back office"
    index_template = "admin/desk/day.html"

    def index(self, request, extra_context=None):
        day = advisor_day(user=request.user)
        context = {"day": day, "house": None, "house_currency": settings.HOUSE_CURRENCY}
        if day is not None:
            context.update(day_context(request=request, day=day))
            context["title"] = "Your boutique's day" if day.is_boutique_wide else "Your day"
        elif visible_boutique_ids(request.user) is None:  # head office and superusers reach every boutique
            context["house"] = house_boutiques(user=request.user)
            context["title"] = "The house"
        context.update(extra_context or {})
        return super().index(request, extra_context=context)

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        """Every ModelAdmin, the house's and the packages' (auth, pghistory, beat …), refuses an action's selection
        that names no row instead of a 500 (core.admin_actions.ActionSelectionCheckMixin)."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ActionSelectionCheckMixin):
            admin_class = type(admin_class.__name__, (ActionSelectionCheckMixin, admin_class),
                               {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__})
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self) -> list:
        # The day's one-click task actions (desk.day_actions), behind the admin's login like every admin page.
        def wrap(view):
            return self.admin_view(require_POST(lambda request, followup_id: view(request, followup_id,
                                                                                 site_name=self.name)))

        def wrap_page(view):
            return self.admin_view(lambda request, **kwargs: view(request, **kwargs, site=self))

        day_actions = [
            path("day/advisors/<int:advisor_id>/", wrap_page(advisor_day_view), name="desk_advisor_day"),
            path("day/boutiques/<int:boutique_id>/", wrap_page(boutique_day_view), name="desk_boutique_day"),
            path("day/tasks/<int:followup_id>/outcome/", wrap(task_outcome_view), name="desk_task_outcome"),
            path("day/tasks/<int:followup_id>/snooze/", wrap(task_snooze_view), name="desk_task_snooze"),
        ]
        return [*day_actions, *super().get_urls()]
