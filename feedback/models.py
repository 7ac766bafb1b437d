"""Surveys sent after touchpoints, the invitations that carry them and the answers clients give."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.moments import stored_range
from customers.models import Advisor, Customer, SourceSystem
from customers.scoping import BoutiqueScopedQuerySet
from touchpoints.models import Interaction, TouchpointType


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)


class Survey(TimeStampedModel):
    """An NPS, CSAT or custom survey, sent a while after a given kind of touchpoint."""

    class Kind(models.TextChoices):
        NPS = "nps", "NPS (0–10)"
        CSAT = "csat", "CSAT (1–5)"
        CUSTOM = "custom", "Custom questions"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    question = models.CharField(max_length=240, help_text="The main question the score answers.")
    questions = models.JSONField(default=list, blank=True, help_text="Further questions, for custom surveys.")
    trigger_type = models.ForeignKey(
        TouchpointType, null=True, blank=True, on_delete=models.SET_NULL, related_name="surveys"
    )
    class Purpose(models.TextChoices):
        # The consent the invitation needs on its channel (customers.ConsentPurpose), as for follow-up templates.
        MARKETING = "marketing", "Marketing"
        SERVICE = "service", "Service"

    question_translations = models.JSONField(
        default=dict, blank=True,
        help_text='The question in the clients\' other languages, e.g. {"fr": "…", "it": "…"}.',
    )
    delay_hours = models.PositiveIntegerField(default=24)
    expires_after_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days a link stays valid. Empty: the house's SURVEY_EXPIRES_DAYS."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    purpose = models.CharField(
        max_length=12, choices=Purpose.choices, default=Purpose.MARKETING,
        help_text="The client's consent the invitation needs on its channel.",
    )
    sample_percent = models.PositiveSmallIntegerField(
        default=100, validators=[MaxValueValidator(100)],
        help_text="Share of clients invited (the same clients every time, drawn from the client and the survey).",
    )
    recontact_days = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Days without another survey before this one may go. Empty, or shorter than the house's "
        "SURVEY_RECONTACT_DAYS: the house's.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(sample_percent__lte=100), name="survey_sample_percent_0_to_100"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        languages = {code for code, _name in settings.LANGUAGES}
        translations = self.question_translations
        if not isinstance(translations, dict) or any(
            code not in languages or not isinstance(text, str) or not text.strip() or len(text) > 240
            for code, text in translations.items()
        ):
            raise ValidationError({"question_translations": (
                f"Give an object of language codes ({', '.join(sorted(languages))}) to questions of 1 to 240 "
                "characters."
            )})


class Invitation(TimeStampedModel):
    """A survey sent to one client about one touchpoint, answered once through an unguessable token.

    Scheduled when the touchpoint is recorded (feedback.services.invitations_schedule_many), due `delay_hours`
    later; one that will not go is kept as not_sent with the reason, so that every skip can be counted.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        NOT_SENT = "not_sent", "Not sent"

    class Reason(models.TextChoices):
        THROTTLED = "throttled", "Throttled: surveyed recently"
        NO_CONSENT = "no_consent", "No consent for the channel"
        SAMPLED_OUT = "sampled_out", "Sampled out"
        NO_ADDRESS = "no_address", "No address for the channel"
        ERASED = "erased", "Erased client"
        HANDS_OFF = "hands_off", "Client on hands-off"
        EXPIRED = "expired", "Expired before it could go"

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="survey_invitations")
    interaction = models.ForeignKey(Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=new_invitation_token, editable=False)
    channel = models.CharField(max_length=8, choices=Survey.Channel.choices, default=Survey.Channel.EMAIL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=12, choices=Reason.choices, blank=True,
                              help_text="Why a not-sent invitation does not go.")
    due_at = models.DateTimeField(null=True, blank=True, help_text="When it is to be sent.")
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="invitation_created_idx"),
            # The recontact throttle: a client's scheduled invitations around a moment.
            models.Index(fields=["customer", "due_at"], condition=Q(status="scheduled"),
                         name="invitation_throttle_idx"),
            # What is due to be sent (the dispatch).
            models.Index(fields=["due_at"], condition=Q(status="scheduled", sent_at__isnull=True),
                         name="invitation_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="scheduled", reason="") | (Q(status="not_sent") & ~Q(reason="")),
                name="invitation_reason_when_not_sent",
            ),
            models.UniqueConstraint(
                fields=["survey", "interaction"],
                condition=Q(interaction__isnull=False),
                name="invitation_one_per_survey_and_interaction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} for {self.customer_id}"


class Response(models.Model):
    """A client's answer: the score, the comment, and for NPS whether they promote, stay passive or detract."""

    class NpsClass(models.TextChoices):
        PROMOTER = "promoter", "Promoter"
        PASSIVE = "passive", "Passive"
        DETRACTOR = "detractor", "Detractor"

    class Source(models.TextChoices):
        # The house's systems (customers.SourceSystem), and the survey tools whose answers come by webhook: each
        # keeps its own namespace of response ids, so (source, external_id) is an answer once.
        POS = SourceSystem.POS.value, SourceSystem.POS.label
        ECOMMERCE = SourceSystem.ECOMMERCE.value, SourceSystem.ECOMMERCE.label
        CRM = SourceSystem.CRM.value, SourceSystem.CRM.label
        ATELIER = SourceSystem.ATELIER.value, SourceSystem.ATELIER.label
        TYPEFORM = "typeform", "Typeform"
        SURVEY_TOOL = "survey_tool", "Survey tool (Standard Webhooks)"

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="survey_responses")
    invitation = models.OneToOneField(
        Invitation, null=True, blank=True, on_delete=models.SET_NULL, related_name="response"
    )
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    answers = models.JSONField(default=dict, blank=True)
    nps_class = models.CharField(max_length=10, choices=NpsClass.choices, blank=True)
    stage_key = models.CharField(max_length=40, blank=True, help_text="The client's lifecycle stage when answering.")
    responded_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ATELIER)
    external_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-responded_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=10), name="response_score_0_to_10"),
            models.CheckConstraint(condition=stored_range("responded_at"), name="response_responded_at_in_range"),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="response_unique_external_id_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-responded_at"], name="response_customer_idx"),
            models.Index(fields=["survey", "responded_at"], name="response_survey_idx"),
            models.Index(fields=["-responded_at"], name="response_responded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.score} from {self.customer_id}"


class RecoveryCase(TimeStampedModel):
    """A service-recovery task a detractor's answer opens (feedback.services.recovery): the client's advisor, or the
    boutique manager when the client has none, is to contact the client by `contact_due_at` (the SLA). Shown on
    the advisor's day (desk); contacting, closing with an outcome and a root cause, and escalation come next."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONTACTED = "contacted", "Contacted"
        RESOLVED = "resolved", "Resolved"
        CANCELLED = "cancelled", "Cancelled (client erased)"

    response = models.OneToOneField(Response, on_delete=models.PROTECT, related_name="recovery_case")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="recovery_cases")
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="Who is to call: the client's advisor, else the boutique manager.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    contact_due_at = models.DateTimeField(help_text="First contact due by (RECOVERY_CONTACT_HOURS after the answer).")

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["contact_due_at", "pk"]
        indexes = [
            # The advisor's day: their open cases by due time.
            models.Index(fields=["advisor", "contact_due_at"], condition=Q(status="open"), name="recovery_open_idx"),
        ]

    def __str__(self) -> str:
        return f"Recovery of response {self.response_id}"
