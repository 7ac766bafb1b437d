"""Surveys sent after touchpoints, the invitations that carry them and the answers clients give."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel
from core.moments import stored_range
from customers.models import Customer, SourceSystem
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
    delay_hours = models.PositiveIntegerField(default=24)
    expires_after_days = models.PositiveIntegerField(default=14)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Invitation(TimeStampedModel):
    """A survey sent to one client about one touchpoint, answered once through an unguessable token."""

    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="survey_invitations")
    interaction = models.ForeignKey(Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=new_invitation_token, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at"], name="invitation_created_idx")]
        constraints = [
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
    source = models.CharField(max_length=16, choices=SourceSystem.choices, default=SourceSystem.ATELIER)
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
