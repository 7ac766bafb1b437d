"""The webhook log in the admin: every delivery, read-only, with its payload, and a replay for failed ones.
Head office only (webhooks/migrations/0002). The page only reads and calls webhooks.services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from core.errors import ApplicationError
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_replay


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "provider", "topic", "outcome", "error", "attempts", "shop"]
    list_filter = ["outcome", "provider", "topic", "error_code", "received_at"]
    search_fields = ["=event_id", "=subject", "shop", "topic"]
    search_help_text = "An event id or a subject such as order:450789469 (exact), a shop or a topic."
    date_hierarchy = "received_at"
    list_per_page = 50
    actions = ["replay"]
    fields = [
        "provider", "topic", "event_id", "shop", "received_at", "outcome", "result", "subject", "subject_version",
        "body_key", "error_code", "error_message", "attempts", "processed_at", "replayed_by", "original", "headers",
        "payload",
    ]
    readonly_fields = fields

    # --- permissions: head office views the log and replays failures; nobody adds, edits or deletes a delivery ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.replay_{self.opts.model_name}")

    @admin.display(description="Error")
    def error(self, obj: WebhookDelivery) -> str:
        return Truncator(obj.error_message).chars(80)

    @admin.display(description="Payload")
    def payload(self, obj: WebhookDelivery) -> str:
        return format_html('<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>',
                           obj.payload_pretty)

    @admin.action(description="Replay the selected failed deliveries", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        outcomes: dict[str, int] = {}
        failed = list(queryset.filter(outcome=WebhookDelivery.Outcome.FAILED).order_by("received_at", "pk"))
        skipped = queryset.count() - len(failed)
        for delivery in failed:
            try:
                replayed = webhook_replay(delivery=delivery, actor=request.user)
            except ApplicationError:  # replayed meanwhile by someone else
                skipped += 1
                continue
            label = replayed.get_outcome_display()
            outcomes[label] = outcomes.get(label, 0) + 1
        if outcomes:
            summary = ", ".join(f"{count} {label.lower()}" for label, count in outcomes.items())
            self.message_user(request, f"Replayed: {summary}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} delivery(ies) not replayed: only failed ones can be.",
                              messages.WARNING)
