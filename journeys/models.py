"""Journey maps, the stages clients move through, the rules that move them and the follow-ups that follow."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.moments import stored_range
from customers.models import Advisor, Boutique, Channel, Customer, Persona, Segment, ValueTier
from customers.scoping import BoutiqueScopedQuerySet
from touchpoints.models import Interaction, LifecycleStage, Order, TouchpointType


class Journey(TimeStampedModel):
    """A journey map: ordered stages a client moves through, optionally for one persona or segment."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.SET_NULL, related_name="journeys")
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="journeys")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Stage(TimeStampedModel):
    """One stage of a journey, in order, with the touchpoints expected there and a target time in stage."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="stages")
    key = models.SlugField(max_length=40, help_text=f"E.g. {', '.join(LifecycleStage.values)}.")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField()
    description = models.TextField(blank=True)
    expected_touchpoint_types = models.ManyToManyField(TouchpointType, blank=True, related_name="expected_in_stages")
    target_days = models.PositiveIntegerField(null=True, blank=True, help_text="Expected days in this stage.")

    class Meta:
        ordering = ["journey", "position"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="stage_unique_position"),
            models.UniqueConstraint(fields=["journey", "key"], name="stage_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.journey.name} · {self.name}"


class Enrollment(TimeStampedModel):
    """A client in a journey: the current stage and since when. One per client and journey."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="enrollments")
    journey = models.ForeignKey(Journey, on_delete=models.PROTECT, related_name="enrollments")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="enrollments")
    stage_entered_at = models.DateTimeField()
    enrolled_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "journey"], name="enrollment_one_per_customer_and_journey"),
            models.CheckConstraint(
                condition=Q(exited_at__isnull=True) | Q(exited_at__gte=models.F("enrolled_at")),
                name="enrollment_exit_after_enrollment",
            ),
            models.CheckConstraint(condition=stored_range("enrolled_at"), name="enrollment_enrolled_at_in_range"),
            models.CheckConstraint(
                condition=stored_range("stage_entered_at"), name="enrollment_stage_entered_at_in_range"
            ),
        ]
        indexes = [models.Index(fields=["journey", "stage", "stage_entered_at"], name="enrollment_stage_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.journey_id} at {self.stage_id}"


class TransitionQuerySet(BoutiqueScopedQuerySet):
    boutique_path = "enrollment__customer__home_boutique_id"


class Transition(models.Model):
    """A stage move, with why it happened and who or what caused it. Nothing moves a client without one."""

    class Cause(models.TextChoices):
        ENROLLMENT = "enrollment", "Enrollment"
        RULE = "rule", "Rule"
        MANUAL = "manual", "Manual"
        IMPORT = "import", "Import"
        API = "api", "API"
        SYNC = "sync", "Sync"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()
    cause = models.CharField(max_length=12, choices=Cause.choices)
    rule = models.ForeignKey("Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="transitions")
    interaction = models.ForeignKey(Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Who moved the client when it is no staff member: the integration's API key ("API key Shop (AbCd1234)").
    actor_label = models.CharField(max_length=120, blank=True)
    note = models.CharField(max_length=240, blank=True)

    objects = TransitionQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [
            models.Index(fields=["enrollment", "-occurred_at"], name="transition_enrollment_idx"),
            models.Index(fields=["-occurred_at"], name="transition_occurred_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=stored_range("occurred_at"), name="transition_occurred_at_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage_id} → {self.to_stage_id} ({self.cause})"


class FollowUpTemplate(TimeStampedModel):
    """A personal gesture to schedule: an email, an SMS or a task for the advisor, with A/B variants."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        ADVISOR_TASK = "advisor_task", "Advisor task"

    class Purpose(models.TextChoices):
        # The consent an email or SMS needs (customers.ConsentPurpose): marketing, or service for a message the
        # client expects (an alteration ready, an appointment).
        MARKETING = "marketing", "Marketing"
        SERVICE = "service", "Service"

    name = models.CharField(max_length=120, unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    purpose = models.CharField(
        max_length=12, choices=Purpose.choices, default=Purpose.MARKETING,
        help_text="The client's consent this needs on its channel (not checked for advisor tasks). Service "
        "follow-ups (expected messages, service-recovery calls) are never held out.",
    )
    delay_hours = models.PositiveIntegerField(default=0, help_text="Hours after the trigger before it is due.")
    holdout_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(50)],
        help_text="Share of clients kept out of it to measure its lift. Empty: the house default "
        "(FOLLOWUP_HOLDOUT_PERCENT); 0: nobody. Marketing follow-ups only.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "follow-up template"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FollowUpVariant(models.Model):
    """One A/B variant of a template: subject and body in Django template syntax, and its share of clients."""

    template = models.ForeignKey(FollowUpTemplate, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20, default="A")
    weight = models.PositiveSmallIntegerField(default=1)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()

    class Meta:
        verbose_name = "follow-up variant"
        ordering = ["template", "label"]
        constraints = [
            models.UniqueConstraint(fields=["template", "label"], name="variant_unique_label"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="variant_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id}/{self.label}"


# The value tiers from lowest to highest: a rule "for tiers from Platinum" acts on Platinum and VIC clients.
TIER_ORDER = list(ValueTier.values)

TIME_TRIGGERS = ("inactivity", "time_in_stage", "date")


class Rule(TimeStampedModel):
    """Data, not code: when something happens (or stops happening), move to a stage and/or schedule a follow-up.

    On an interaction (of the rule's touchpoint types, with its optional conditions) or on time (checked by beat):
    no interaction of the types for `days`; `days` in one of `from_stages`; a date in the client's profile coming up
    within `days`. Rules run by priority (lower first) within their journey; one that fires with `stop_processing`
    ends the evaluation for that client and that interaction (or that run). Checked by clean() and, for the
    many-to-many fields the admin saves after the row, by clean_relations(); the constraints hold the rest.
    """

    class Trigger(models.TextChoices):
        INTERACTION = "interaction", "On an interaction"
        INACTIVITY = "inactivity", "No interaction for N days"
        TIME_IN_STAGE = "time_in_stage", "N days in a stage"
        DATE = "date", "A date in the client's profile coming up"

    class ProfileDate(models.TextChoices):
        BIRTHDAY = "birthday", "Birthday"
        FIRST_PURCHASE_ANNIVERSARY = "first_purchase_anniversary", "First purchase anniversary"

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower runs first.")
    stop_processing = models.BooleanField(default=False, help_text="When this rule fires, skip the rules after it.")
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    touchpoint_types = models.ManyToManyField(
        TouchpointType, blank=True, related_name="rules",
        help_text="On an interaction: the types that trigger it. No interaction for N days: the types watched.",
    )
    from_stages = models.ManyToManyField(
        Stage, blank=True, related_name="rules_from", help_text="Empty: any stage of the journey."
    )
    enrolls_new_clients = models.BooleanField(
        default=False,
        help_text="On an interaction: a client not yet in the journey is enrolled straight into the rule's stage.",
    )
    min_amount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="On an interaction: its amount at least."
    )
    min_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="On an interaction: at least this many of the types (this one included) …"
    )
    window_days = models.PositiveIntegerField(null=True, blank=True, help_text="… within this many days.")
    channel = models.CharField(
        max_length=16, choices=Channel.choices, blank=True, help_text="On an interaction: only on this channel."
    )
    boutiques = models.ManyToManyField(
        Boutique, blank=True, related_name="+", help_text="On an interaction: only in these boutiques (empty: any)."
    )
    min_score = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="On an interaction: a survey score (0–10, the interaction's metadata \"score\") at least.",
    )
    min_tier = models.CharField(
        max_length=12, choices=ValueTier.choices, blank=True, help_text="Only clients of this value tier or above."
    )
    days = models.PositiveIntegerField(null=True, blank=True, help_text="N for the time-based triggers.")
    profile_date = models.CharField(max_length=32, choices=ProfileDate.choices, blank=True)
    to_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="rules_to")
    followup_template = models.ForeignKey(
        FollowUpTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )

    class Meta:
        ordering = ["journey", "priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_stage__isnull=False) | Q(followup_template__isnull=False), name="rule_has_an_action"
            ),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(min_amount__gte=0), name="rule_min_amount_not_negative"
            ),
            models.CheckConstraint(condition=Q(days__isnull=True) | Q(days__gte=1), name="rule_days_at_least_one"),
            models.CheckConstraint(
                condition=Q(min_count__isnull=True, window_days__isnull=True)
                # Both present (a NULL compared would let the CHECK pass) and at least 1.
                | Q(min_count__isnull=False, window_days__isnull=False, min_count__gte=1, window_days__gte=1),
                name="rule_count_and_window_together",
            ),
            models.CheckConstraint(
                condition=Q(min_score__isnull=True) | Q(min_score__lte=10), name="rule_min_score_0_to_10"
            ),
            models.CheckConstraint(
                condition=Q(trigger="interaction", days__isnull=True, profile_date="")
                | (~Q(trigger="interaction") & Q(days__isnull=False, min_amount__isnull=True, min_count__isnull=True,
                                                 channel="", min_score__isnull=True, enrolls_new_clients=False)),
                name="rule_conditions_fit_the_trigger",
            ),
            models.CheckConstraint(
                condition=Q(trigger="date", profile_date__gt="") | (~Q(trigger="date") & Q(profile_date="")),
                name="rule_profile_date_only_for_date_rules",
            ),
            models.CheckConstraint(
                condition=Q(enrolls_new_clients=False) | Q(to_stage__isnull=False),
                name="rule_enrolls_into_its_stage",
            ),
        ]
        indexes = [models.Index(fields=["trigger", "is_active"], name="rule_trigger_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_time_based(self) -> bool:
        return self.trigger in TIME_TRIGGERS

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.to_stage_id is None and self.followup_template_id is None:
            errors["to_stage"] = "A rule must move to a stage, schedule a follow-up, or both."
        if self.to_stage_id and self.journey_id and self.to_stage.journey_id != self.journey_id:
            errors["to_stage"] = "The stage belongs to another journey."
        if self.followup_template_id and not self.followup_template.is_active:
            errors["followup_template"] = "The template is not active; activate it or choose another."
        for name in ("days", "window_days", "min_count"):
            value = getattr(self, name)
            if value is not None and value < 1:
                errors[name] = "Give a number of at least 1."
        if self.min_amount is not None and self.min_amount < 0:
            errors["min_amount"] = "An amount cannot be negative."
        if self.min_score is not None and self.min_score > 10:
            errors["min_score"] = "A survey score goes from 0 to 10."
        if (self.min_count is None) != (self.window_days is None):
            errors["window_days"] = "Give both the count and the window in days (each at least 1), or neither."
        if self.is_time_based:
            if self.days is None:
                errors["days"] = "Give the number of days for a time-based rule."
            interaction_only = {
                "min_amount": self.min_amount is not None, "min_count": self.min_count is not None,
                "window_days": self.window_days is not None, "channel": bool(self.channel),
                "min_score": self.min_score is not None, "enrolls_new_clients": self.enrolls_new_clients,
            }
            for name, is_set in interaction_only.items():
                if is_set:
                    errors[name] = "Only a rule on an interaction has this condition."
        elif self.days is not None:
            errors["days"] = "A rule on an interaction has no number of days; use the count and window."
        if self.trigger == self.Trigger.DATE and not self.profile_date:
            errors["profile_date"] = "Choose which date in the client's profile the rule watches."
        if self.trigger != self.Trigger.DATE and self.profile_date:
            errors["profile_date"] = "Only a rule on a date in the client's profile watches one."
        if self.enrolls_new_clients and not self.to_stage_id:
            errors["enrolls_new_clients"] = "A rule that enrolls new clients needs the stage to put them in."
        if errors:
            raise ValidationError(errors)

    def clean_relations(self, *, touchpoint_types, from_stages, boutiques) -> None:
        """Check the many-to-many choices against the row (the admin form calls this with its cleaned values)."""
        errors: dict[str, str] = {}
        touchpoint_types, from_stages, boutiques = list(touchpoint_types), list(from_stages), list(boutiques)
        if self.trigger in (self.Trigger.INTERACTION, self.Trigger.INACTIVITY) and not touchpoint_types:
            errors["touchpoint_types"] = "Choose the touchpoint types the rule reacts to."
        if self.trigger in (self.Trigger.TIME_IN_STAGE, self.Trigger.DATE) and touchpoint_types:
            errors["touchpoint_types"] = "This trigger does not look at touchpoint types."
        foreign = [stage for stage in from_stages if stage.journey_id != self.journey_id]
        if foreign:
            errors["from_stages"] = f"These stages belong to another journey: {', '.join(map(str, foreign))}."
        elif self.trigger == self.Trigger.TIME_IN_STAGE and not from_stages:
            errors["from_stages"] = "Choose the stage(s) whose time the rule counts."
        elif self.is_time_based and self.to_stage_id and any(s.pk == self.to_stage_id for s in from_stages):
            errors["from_stages"] = "A time-based rule cannot move clients to a stage they are already in."
        if boutiques and self.trigger != self.Trigger.INTERACTION:
            errors["boutiques"] = "Only a rule on an interaction looks at the boutique."
        if errors:
            raise ValidationError(errors)


class HandsOff(models.Model):
    """An advisor's pause on automation for one client: no rule moves them or schedules for them while it holds,
    until `until` (or until lifted when it has none). Lifted ones are kept as the record of who paused and why."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="hands_offs")
    reason = models.CharField(max_length=240, blank=True)
    starts_at = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: until lifted.")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "hands-off"
        verbose_name_plural = "hands-off"
        ordering = ["-starts_at", "-pk"]
        constraints = [
            # One open pause per client: setting a new one lifts the one before (journeys.services.hands_off_set).
            models.UniqueConstraint(fields=["customer"], condition=Q(lifted_at__isnull=True),
                                    name="hands_off_one_open_per_customer"),
            models.CheckConstraint(condition=Q(until__isnull=True) | Q(until__gt=models.F("starts_at")),
                                   name="hands_off_until_after_start"),
            models.CheckConstraint(condition=stored_range("until"), name="hands_off_until_in_range"),
        ]

    def __str__(self) -> str:
        return f"Hands-off for {self.customer_id}"


class FollowUp(TimeStampedModel):
    """One scheduled gesture for one client. The idempotency key makes sure a retried task never sends twice."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        # Claimed by the dispatcher and handed to the provider; what happens to a row a dead worker left here is
        # decided by journeys.services.dispatch (resent with the same idempotency key, or held for review).
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"
        HELD_OUT = "held_out", "Held out"

    class Outcome(models.TextChoices):
        REACHED = "reached", "Reached"
        NO_ANSWER = "no_answer", "No answer"
        DECLINED = "declined", "Declined"
        SALE = "sale", "Sale"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="followups")
    template = models.ForeignKey(FollowUpTemplate, on_delete=models.PROTECT, related_name="followups")
    variant = models.ForeignKey(FollowUpVariant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=16, choices=FollowUpTemplate.Channel.choices)
    due_at = models.DateTimeField()
    # When it was first due (followup_schedule): quiet hours, the frequency cap, retries and snoozes move due_at,
    # and the cap gives up on a follow-up pushed too far from this.
    first_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="followups")
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="followups")
    transition = models.ForeignKey(Transition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the gesture reached the client: the provider accepted the message, or the advisor recorded the task's
    # outcome. Attribution counts from it.
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the client first opened the email, where known: an `email_opened` touchpoint naming its Message-ID.
    opened_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=240, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    # What the advisor noted with the outcome ("Will come Saturday for the fitting"), on the client's timeline.
    outcome_note = models.TextField(blank=True)
    attributed_order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Who last settled the follow-up by hand (an outcome, a snooze, a correction in the admin), and when.
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    handled_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "follow-up"
        ordering = ["-due_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="followup_due_idx"),
            models.Index(fields=["-due_at"], name="followup_due_at_idx"),
            models.Index(fields=["customer", "-due_at"], name="followup_customer_idx"),
            models.Index(fields=["advisor", "status", "due_at"], name="followup_advisor_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=stored_range("due_at"), name="followup_due_at_in_range"),
        ]

    def __str__(self) -> str:
        # What staff read in the page title and the admin's log: the template and the client, not their ids.
        return f"{self.template} for {self.customer}"
