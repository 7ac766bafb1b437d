"""Surveys sent after touchpoints, the invitations that carry them and the answers clients give."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.errors import ApplicationError
from core.models import TimeStampedModel
from core.moments import stored_range
from customers.models import Advisor, Customer, SourceSystem
from customers.scoping import BoutiqueScopedQuerySet
from touchpoints.models import Interaction, TouchpointType

MAX_REMINDERS = 2


def new_invitation_token() -> str:
    return secrets.token_urlsafe(32)


class SendingState(models.Model):
    """What the dispatcher's "never twice" needs on a row it sends (touchpoints.outbox): the attempts, when the last
    began, the provider's message id, the first due time (lateness counts from it) and what staff read."""

    # Database defaults too: invitations are scheduled in raw SQL (feedback.services.invitations).
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    first_due_at = models.DateTimeField(null=True, blank=True, help_text="When it was first due, before postponing.")
    provider_message_id = models.CharField(max_length=200, blank=True, default="", db_default="")
    status_reason = models.CharField(max_length=300, blank=True, default="", db_default="",
                                     help_text="What happened to it, in words.")

    class Meta:
        abstract = True


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
    reminder_count = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_REMINDERS)],
        help_text="Reminders (0 to 2) to clients who have not answered; they stop once the client answers.",
    )
    reminder_after_days = models.PositiveIntegerField(
        default=3, validators=[MinValueValidator(1)],
        help_text="Days after the invitation (and after each reminder) before the next reminder.",
    )
    referral_subject = models.CharField(max_length=200, blank=True,
                                        help_text="The referral ask's subject (email), for promoters.")
    referral_body = models.TextField(
        blank=True,
        help_text="The referral ask promoters (9–10) with marketing consent get 48 h after their answer; "
        "{{ client.first_name }} is the client's first name. Empty: no referral ask.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(sample_percent__lte=100), name="survey_sample_percent_0_to_100"),
            models.CheckConstraint(condition=Q(reminder_count__lte=MAX_REMINDERS), name="survey_reminders_0_to_2"),
            models.CheckConstraint(condition=Q(reminder_after_days__gte=1), name="survey_reminder_after_days_1"),
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
        from feedback.services.sending import referral_check  # the services import the models

        try:
            referral_check(subject=self.referral_subject, body=self.referral_body)
        except ApplicationError as error:
            raise ValidationError({field: messages for field, messages in error.fields.items()}) from error


class Invitation(SendingState, TimeStampedModel):
    """A survey sent to one client about one touchpoint, answered once through an unguessable token.

    Scheduled when the touchpoint is recorded (feedback.services.invitations_schedule_many), due `delay_hours`
    later; one that will not go is kept as not_sent with the reason, so that every skip can be counted.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
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
    expires_at = models.DateTimeField(
        help_text="Until the link is sent: when it would expire; then SURVEY_EXPIRES_DAYS (or the survey's) after it "
        "was sent."
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="invitation_created_idx"),
            # The recontact throttle: a client's invitations to be sent, or sent, around a moment.
            models.Index(fields=["customer", "due_at"], condition=Q(status__in=["scheduled", "sending", "sent"]),
                         name="invitation_throttle_idx"),
            # What is due to be sent (the dispatch).
            models.Index(fields=["due_at"], condition=Q(status="scheduled", sent_at__isnull=True),
                         name="invitation_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "sending", "sent", "failed"], reason="")
                | (Q(status="not_sent") & ~Q(reason="")),
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


class SurveyMessage(SendingState, TimeStampedModel):
    """A message about a survey after its invitation: a reminder to a client who has not answered (numbered 1 and
    2), or the referral ask to a promoter. Sent by the dispatcher like the invitation (feedback.services.sending);
    one that does not go says why."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Reminder"
        REFERRAL = "referral", "Referral ask"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        NOT_SENT = "not_sent", "Not sent"

    class Reason(models.TextChoices):
        THROTTLED = "throttled", "Throttled: surveyed recently"
        NO_CONSENT = "no_consent", "No consent for the channel"
        NO_ADDRESS = "no_address", "No address for the channel"
        ERASED = "erased", "Erased client"
        HANDS_OFF = "hands_off", "Client on hands-off"
        EXPIRED = "expired", "Expired before it could go"
        ANSWERED = "answered", "The client answered"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    number = models.PositiveSmallIntegerField(default=1, help_text="The reminder's number (1, 2); 1 for a referral.")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="messages")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="survey_messages")
    invitation = models.ForeignKey("Invitation", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="messages")
    response = models.ForeignKey("Response", null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=8, choices=Survey.Channel.choices, default=Survey.Channel.EMAIL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    reason = models.CharField(max_length=12, choices=Reason.choices, blank=True,
                              help_text="Why a not-sent message does not go.")
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="scheduled"), name="survey_message_due_idx"),
            models.Index(fields=["customer", "sent_at"], condition=Q(status__in=["sending", "sent"]),
                         name="survey_message_sent_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "sending", "sent", "failed"], reason="")
                | (Q(status="not_sent") & ~Q(reason="")),
                name="survey_message_reason_when_not_sent",
            ),
            models.UniqueConstraint(fields=["invitation", "kind", "number"], condition=Q(invitation__isnull=False),
                                    name="survey_message_one_per_invitation"),
            models.UniqueConstraint(fields=["response", "kind"], condition=Q(response__isnull=False),
                                    name="survey_message_one_per_response"),
        ]

    def __str__(self) -> str:
        what = f"Survey reminder {self.number}" if self.kind == self.Kind.REMINDER else "Referral ask"
        return f"{what} ({self.get_status_display().lower()})"


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


class RootCause(models.Model):
    """Why a client was unhappy, as head office names it: the list a recovery case is closed with (seeded with
    product quality, alteration, advisor care, waiting, delivery, price, other; edited in the admin)."""

    name = models.CharField(max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True, help_text="Offered when closing a case.")

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class RecoveryCase(TimeStampedModel):
    """A service-recovery task a detractor's answer opens (feedback.services.recovery): the client's advisor, or the
    boutique manager when the client has none, is to contact the client by `contact_due_at` (the SLA, counted in
    the boutique's opening hours). Escalated to the boutique manager when that passes without a contact; closed
    with an outcome and a root cause. Each step is a RecoveryEvent on the client's timeline."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONTACTED = "contacted", "Contacted"
        RESOLVED = "resolved", "Resolved"
        CANCELLED = "cancelled", "Cancelled (client erased)"

    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved: the client is satisfied"
        PARTLY_RESOLVED = "partly_resolved", "Partly resolved"
        NOT_RESOLVED = "not_resolved", "Not resolved"
        UNREACHABLE = "unreachable", "Client unreachable"

    response = models.OneToOneField(Response, on_delete=models.PROTECT, related_name="recovery_case")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="recovery_cases")
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="Who is to call: the client's advisor, else the boutique manager.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    contact_due_at = models.DateTimeField(
        help_text="First contact due by (RECOVERY_CONTACT_HOURS of the boutique's opening hours after the answer)."
    )
    contacted_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True, help_text="When the SLA passed without a contact.")
    escalated_to = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                     help_text="The boutique manager the case was escalated to.")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    root_cause = models.ForeignKey(RootCause, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["contact_due_at", "pk"]
        indexes = [
            # The advisor's day: their open cases by due time; the escalation beat: open cases past it.
            models.Index(fields=["advisor", "contact_due_at"], condition=Q(status="open"), name="recovery_open_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="resolved") | (~Q(outcome="") & Q(root_cause__isnull=False)),
                name="recovery_closed_with_outcome_and_cause",
            ),
        ]

    def __str__(self) -> str:
        return f"Recovery of response {self.response_id}"


class RecoveryEvent(models.Model):
    """One step of a recovery case, on the client's timeline: opened, contacted, escalated, closed."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Recovery opened"
        CONTACTED = "contacted", "Client contacted"
        ESCALATED = "escalated", "Escalated to the boutique manager"
        CLOSED = "closed", "Recovery closed"

    case = models.ForeignKey(RecoveryCase, on_delete=models.CASCADE, related_name="events")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="recovery_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="Who the case is with after this step.")
    note = models.TextField(blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "pk"]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="recovery_event_customer_idx")]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], condition=~Q(kind="contacted"),
                                    name="recovery_event_once_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.note}" if self.note else self.get_kind_display()
