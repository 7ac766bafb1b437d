"""The webhook log: every delivery an ecommerce platform or a survey tool pushed, what became of it, and enough to
replay it."""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.db.models import Q


class Provider(models.TextChoices):
    """The platforms whose webhooks Atelier accepts. The ecommerce ones and Typeform sign the raw body with base64
    HMAC-SHA256; the generic survey endpoint is signed with the Standard Webhooks scheme (webhooks.signatures)."""

    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    TYPEFORM = "typeform", "Typeform"
    SURVEYS = "surveys", "Survey tool (Standard Webhooks)"


class WebhookDelivery(models.Model):
    """One delivery of one webhook: who sent it, the raw body as signed, and its outcome.

    (provider, event id) is unique among the deliveries that count (received, processed, ignored, failed): a
    platform's retry or a replayed request is kept as a `duplicate` row pointing at the first, and a request with a
    bad signature as a `rejected` row (without its body), so neither can take the event id of a genuine delivery.
    The event id and topic are not signed: a body already applied (the same `body_key`) is a `duplicate` too, under
    whatever event id or topic it comes again.
    """

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received (processing)"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate (ignored)"
        IGNORED = "ignored", "Ignored (topic not handled)"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected (bad signature)"

    class ErrorCode(models.TextChoices):
        NONE = "", "None"
        BAD_SIGNATURE = "bad_signature", "Bad or missing signature"
        NOT_CONFIGURED = "not_configured", "No secret configured"
        MALFORMED = "malformed", "Body is not a JSON object"
        INVALID = "invalid", "Refused by a service"
        UNKNOWN_CLIENT = "unknown_client", "Client not found (import or merge, then replay)"
        UNEXPECTED = "unexpected", "Unexpected error"

    # The outcomes that hold their event id: one each per provider.
    COUNTED_OUTCOMES = (Outcome.RECEIVED, Outcome.PROCESSED, Outcome.IGNORED, Outcome.FAILED)

    provider = models.CharField(max_length=16, choices=Provider.choices)
    event_id = models.CharField(max_length=255, help_text="The platform's delivery or event id (or the body's hash).")
    topic = models.CharField(max_length=120, blank=True)
    shop = models.CharField(max_length=255, blank=True, help_text="The shop domain or site that sent it.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.TextField(blank=True, help_text="The raw body as signed (empty for rejected deliveries).")
    headers = models.JSONField(default=dict, blank=True, help_text="The platform's own headers, for a replay.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.RECEIVED)
    error_code = models.CharField(max_length=16, choices=ErrorCode.choices, blank=True, default="")
    error_message = models.TextField(blank=True)
    result = models.CharField(max_length=255, blank=True, help_text="What processing did, in a sentence.")
    subject = models.CharField(max_length=120, blank=True, help_text='What it is about: "order:<id>", "customer:<id>".')
    subject_version = models.DateTimeField(
        null=True, blank=True, help_text="The platform's updated_at of the subject in this body."
    )
    body_key = models.CharField(
        max_length=255, blank=True, default="",
        help_text="The body's own id and updated_at, and its SHA-256: a body is applied once, whatever its headers.",
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    original = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="duplicates",
        help_text="For a duplicate: the delivery that holds this event id.",
    )
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        permissions = [("replay_webhookdelivery", "Can replay a failed webhook delivery")]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                condition=Q(outcome__in=["received", "processed", "ignored", "failed"]),
                name="webhook_delivery_once_per_event",
            ),
        ]
        indexes = [
            models.Index(fields=["outcome", "-received_at"], name="webhook_outcome_received"),
            models.Index(fields=["provider", "subject", "-subject_version"], name="webhook_subject_version"),
            models.Index(fields=["provider", "body_key"], name="webhook_body_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.topic or '?'} {self.event_id}"

    @property
    def payload_pretty(self) -> str:
        """The body indented for reading (as received when it is not JSON)."""
        try:
            return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False, sort_keys=True)
        except ValueError:
            return self.body
