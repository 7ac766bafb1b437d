"""API keys: how an outside system (the ecommerce site, the app, a partner) calls the REST API."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey

from customers.models import Boutique


class Scope(models.TextChoices):
    """What a key may do. Each endpoint names the scope it needs to read and the one it needs to write."""

    CUSTOMERS_READ = "customers:read", "Read clients"
    CUSTOMERS_WRITE = "customers:write", "Write clients"
    INTERACTIONS_WRITE = "interactions:write", "Write interactions"
    ORDERS_WRITE = "orders:write", "Write orders"
    JOURNEYS_READ = "journeys:read", "Read journeys and enrollments"
    JOURNEYS_WRITE = "journeys:write", "Move clients between stages"
    CATALOGUE_READ = "catalogue:read", "Read touchpoint types and products"
    INSIGHT_READ = "insight:read", "Read the journey map and the house's figures"
    FEEDBACK_WRITE = "feedback:write", "Record survey answers"


class ApiKey(AbstractAPIKey):
    """A key an integration sends as `Authorization: Api-Key <key>`. Only its hash is stored; the key itself is
    shown once, when it is created in the admin. Revoking is final."""

    scopes = ArrayField(
        models.CharField(max_length=32, choices=Scope.choices),
        default=list,
        blank=True,
        help_text="What the key may do; a key with no scope may call nothing.",
    )
    boutiques = models.ManyToManyField(
        Boutique,
        blank=True,
        related_name="+",
        help_text="Limits the key to these boutiques' clients; none means every boutique.",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
