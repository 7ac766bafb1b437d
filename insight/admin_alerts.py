"""The alert inbox in the admin: new alerts first, each said in a sentence, acknowledged, snoozed or dismissed by
actions that call the services; and the head office calendar of sales, launches and holidays."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.utils import timezone

from core.errors import ApplicationError
from customers.scoping import visible_boutique_ids
from insight.models import Alert, CalendarPeriod
from insight.services.alerts import alert_acknowledge, alert_dismiss, alert_sentence, alert_snooze

SNOOZE_DAYS = 7


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["day", "sentence", "state", "owner", "snoozed_until"]
    list_filter = ["state", "metric", "kind", "owner", "boutique"]
    list_select_related = ["boutique"]
    ordering = ["state", "-day", "-pk"]
    actions = ["acknowledge", "snooze_a_week", "dismiss"]
    readonly_fields = [field.name for field in Alert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        # A boutique manager sees their boutique's alerts; head office (no boutique limit) sees all, the house's too.
        queryset = super().get_queryset(request)
        boutiques = visible_boutique_ids(request.user)
        return queryset if boutiques is None else queryset.filter(boutique_id__in=boutiques)

    @admin.display(description="Alert")
    def sentence(self, alert: Alert) -> str:
        return alert_sentence(alert)

    def _apply(self, request, queryset, change, done: str) -> None:
        count = 0
        for alert in queryset:
            try:
                change(alert)
            except ApplicationError as error:
                self.message_user(request, f"{alert}: {error.message}", messages.ERROR)
            else:
                count += 1
        self.message_user(request, f"{done} {count} alert{'s' if count != 1 else ''}.")

    @admin.action(description="Acknowledge the selected alerts", permissions=["view"])
    def acknowledge(self, request, queryset) -> None:
        self._apply(request, queryset, lambda alert: alert_acknowledge(alert=alert, actor=request.user),
                    "Acknowledged")

    @admin.action(description=f"Snooze the selected alerts for {SNOOZE_DAYS} days", permissions=["view"])
    def snooze_a_week(self, request, queryset) -> None:
        until = max(timezone.now().date(), *(alert.day for alert in queryset)) + dt.timedelta(days=SNOOZE_DAYS)
        self._apply(request, queryset, lambda alert: alert_snooze(alert=alert, actor=request.user, until=until),
                    "Snoozed")

    @admin.action(description="Dismiss the selected alerts (the pattern stays quiet for a while)",
                  permissions=["view"])
    def dismiss(self, request, queryset) -> None:
        self._apply(request, queryset, lambda alert: alert_dismiss(alert=alert, actor=request.user), "Dismissed")


@admin.register(CalendarPeriod)
class CalendarPeriodAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "boutique", "starts_on", "ends_on"]
    list_filter = ["kind", "boutique"]
