"""Touchpoints: every interaction and every order of a client, from every system, on one timeline."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel
from core.moments import stored_range
from customers.models import Advisor, Boutique, Channel, Customer, SourceSystem
from customers.scoping import BoutiqueScopedQuerySet


class LifecycleStage(models.TextChoices):
    """The stages of the default client lifecycle, by key. Journeys name their stages with these keys."""

    AWARENESS = "awareness", "Awareness"
    CONSIDERATION = "consideration", "Consideration"
    PURCHASE = "purchase", "Purchase"
    POST_PURCHASE = "post_purchase", "Post-purchase"
    LOYALTY = "loyalty", "Loyalty"
    ADVOCACY = "advocacy", "Advocacy"


class TouchpointType(TimeStampedModel):
    """A kind of touchpoint (store visit, purchase, email opened …) and the stage it usually signals."""

    class Kind(models.TextChoices):
        PHYSICAL = "physical", "Physical"
        DIGITAL = "digital", "Digital"
        TRANSACTIONAL = "transactional", "Transactional"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    usual_stage = models.CharField(max_length=16, choices=LifecycleStage.choices, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    """An article of the collection, enough for preferences and recommendations."""

    sku = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=160)
    category = models.CharField(max_length=60, db_index=True)
    collection = models.CharField(max_length=80, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(TimeStampedModel):
    """A sale from the POS or ecommerce. Returns are lines with negative quantities; totals are net of them.

    `total` is in the order's currency; `total_house` is the same in the house currency, converted when the
    order is recorded, so that lifetime values add up across boutiques.
    """

    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned"

    COUNTED_STATUSES = (Status.PLACED, Status.FULFILLED)

    source = models.CharField(max_length=16, choices=SourceSystem.choices)
    external_id = models.CharField(max_length=128)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLACED)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    total_house = models.DecimalField(max_digits=14, decimal_places=2)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="order_unique_external_id_per_source"),
            models.CheckConstraint(condition=~Q(external_id=""), name="order_external_id_not_blank"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="order_currency_iso"),
            models.CheckConstraint(condition=stored_range("placed_at"), name="order_placed_at_in_range"),
        ]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_placed_idx"),
            models.Index(fields=["placed_at"], name="order_placed_idx"),
            models.Index(fields=["boutique", "placed_at"], name="order_boutique_placed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class OrderLineQuerySet(BoutiqueScopedQuerySet):
    boutique_path = "order__customer__home_boutique_id"


class OrderLine(models.Model):
    """One line of an order. A returned article is a line with a negative quantity marked as a return."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=40)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="order_lines")
    product_name = models.CharField(max_length=160, blank=True)
    category = models.CharField(max_length=60, blank=True)
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    is_return = models.BooleanField(default=False)

    objects = OrderLineQuerySet.as_manager()

    class Meta:
        ordering = ["order", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_unique_number"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_line_unit_price_not_negative"),
            models.CheckConstraint(
                condition=Q(is_return=False, quantity__gt=0) | Q(is_return=True, quantity__lt=0),
                name="order_line_negative_quantity_only_for_returns",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

    @property
    def line_total(self):
        return self.quantity * self.unit_price


class Interaction(models.Model):
    """One touchpoint in one client's life. Replaying a source's record never doubles it: (source, external id)
    is unique. An order appears on the timeline as the interaction that points at it."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="interactions")
    touchpoint_type = models.ForeignKey(TouchpointType, on_delete=models.PROTECT, related_name="interactions")
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=16, choices=SourceSystem.choices)
    external_id = models.CharField(max_length=160, blank=True, default="")
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="interactions")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="interaction_unique_external_id_per_source",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="interaction_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | ~Q(currency=""), name="interaction_amount_has_currency"
            ),
            models.CheckConstraint(condition=stored_range("occurred_at"), name="interaction_occurred_at_in_range"),
        ]
        indexes = [
            models.Index(F("customer"), F("occurred_at").desc(), F("id").desc(), name="interaction_timeline_idx"),
            models.Index(fields=["touchpoint_type", "occurred_at"], name="interaction_type_occurred_idx"),
            models.Index(fields=["occurred_at"], name="interaction_occurred_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.touchpoint_type_id} for {self.customer_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Appointment(TimeStampedModel):
    """A time an advisor books with a client at a boutique. It stays a booking until it has happened: only an
    attended appointment becomes the `appointment` interaction on the timeline (a future booking must not read as
    the client's last visit)."""

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ATTENDED = "attended", "Attended"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="appointments")
    advisor = models.ForeignKey(Advisor, on_delete=models.PROTECT, related_name="appointments")
    boutique = models.ForeignKey(Boutique, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    duration = models.DurationField()
    purpose = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BOOKED)
    interaction = models.OneToOneField(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointment"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=stored_range("starts_at"), name="appointment_starts_at_in_range"),
            models.CheckConstraint(
                condition=Q(duration__gt=dt.timedelta(0)) & Q(duration__lte=dt.timedelta(hours=12)),
                name="appointment_duration_sane",
            ),
            models.CheckConstraint(condition=~Q(purpose=""), name="appointment_purpose_not_blank"),
            models.CheckConstraint(
                condition=Q(status__in=["booked", "attended", "cancelled", "no_show"]), name="appointment_status_known"
            ),
            models.CheckConstraint(
                condition=Q(interaction__isnull=True) | Q(status="attended"),
                name="appointment_interaction_only_when_attended",
            ),
        ]
        indexes = [
            models.Index(fields=["advisor", "starts_at"], name="appointment_advisor_day_idx"),
            models.Index(fields=["boutique", "starts_at"], name="appointment_boutique_day_idx"),
            models.Index(fields=["customer", "starts_at"], name="appointment_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} for {self.customer_id} at {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + self.duration
