"""Boutiques, advisors, personas and clients: the golden record everything else points at."""

from __future__ import annotations

import uuid
import zoneinfo

import pghistory
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce, Lower, Upper

from core.models import TimeStampedModel
from core.moments import stored_range
from customers.scoping import BoutiqueQuerySet, BoutiqueScopedQuerySet
from customers.search import name_search_vector, reversed_phone


class Channel(models.TextChoices):
    """Where a client meets the house. Consent, personas, touchpoints and follow-ups share this vocabulary."""

    BOUTIQUE = "boutique", "Boutique"
    WEB = "web", "Website"
    APP = "app", "App"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    MESSAGING = "messaging", "Messaging"
    SOCIAL = "social", "Social"
    EVENT = "event", "Event"


class ConsentChannel(models.TextChoices):
    """The channels a client can agree (or refuse) to be contacted on."""

    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    MESSAGING = "messaging", "Messaging"


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SERVICE = "service", "Service"


class SourceSystem(models.TextChoices):
    """The system a record came from; (system, external id) pairs identify records across systems."""

    POS = "pos", "Point of sale"
    ECOMMERCE = "ecommerce", "Ecommerce"
    CRM = "crm", "Legacy CRM"
    ATELIER = "atelier", "Atelier"


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/Paris).")


class Boutique(TimeStampedModel):
    """A store of the house. Its country gives the default region for local phone numbers."""

    code = models.SlugField(max_length=16, unique=True, help_text="Short code used by the POS, e.g. PAR-FSH.")
    name = models.CharField(max_length=120)
    city = models.CharField(max_length=80)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. FR.")
    timezone = models.CharField(max_length=64, default="Europe/Paris", validators=[validate_timezone])
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code, e.g. EUR.")

    objects = BoutiqueQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="boutique_country_iso"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="boutique_currency_iso"),
        ]

    def __str__(self) -> str:
        return self.name


class AdvisorQuerySet(BoutiqueScopedQuerySet):
    boutique_path = "boutique_id"


class Advisor(TimeStampedModel):
    """A staff member's role in the house. Advisors and managers work for one boutique; head office sees all."""

    class Role(models.TextChoices):
        ADVISOR = "advisor", "Advisor"
        BOUTIQUE_MANAGER = "boutique_manager", "Boutique manager"
        HEAD_OFFICE = "head_office", "Head office"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="advisor")
    boutique = models.ForeignKey(Boutique, null=True, blank=True, on_delete=models.PROTECT, related_name="advisors")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ADVISOR)
    is_active = models.BooleanField(default=True)

    objects = AdvisorQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role="head_office") | Q(boutique__isnull=False), name="advisor_boutique_unless_head_office"
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class Persona(TimeStampedModel):
    """A portrait of a kind of client: what moves them, what annoys them, how they like to be reached."""

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    motivations = models.TextField(blank=True)
    pain_points = models.TextField(blank=True)
    preferred_channels = models.JSONField(default=list, blank=True, help_text="Channel codes, most preferred first.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ValueTier(models.TextChoices):
    """Tiers by lifetime value in the house currency (thresholds in customers.services.metrics)."""

    PROSPECT = "prospect", "Prospect"
    CLIENT = "client", "Client"
    GOLD = "gold", "Gold"
    PLATINUM = "platinum", "Platinum"
    VIC = "vic", "VIC"


class CustomerQuerySet(BoutiqueScopedQuerySet):
    boutique_path = "home_boutique_id"

    def assigned_to(self, user) -> CustomerQuerySet:
        """The client book of the advisor who is `user`."""
        return self.filter(advisor__user=user)

    def with_open_contact_conflicts(self) -> CustomerQuerySet:
        """Each client with `open_contact_conflicts`: how many values other systems proposed wait for staff."""
        waiting = (
            ContactConflict.objects.filter(customer=models.OuterRef("pk"), status=ContactConflict.Status.OPEN)
            .order_by().values("customer").annotate(count=models.Count("pk")).values("count")
        )
        return self.annotate(open_contact_conflicts=Coalesce(models.Subquery(waiting), 0))


# History by database triggers: bulk writes from imports, syncs and the API are recorded like admin edits.
# Derived metrics are left out; they change with every order and are recomputed from the orders anyway.
@pghistory.track(
    exclude=[
        "lifetime_value", "order_count", "first_order_at", "last_order_at", "average_order_value", "recency_score",
        "frequency_score", "monetary_score", "last_interaction_at", "updated_at", "name_search",
    ],
    model_name="CustomerHistory",
)
class Customer(TimeStampedModel):
    """One client of the house: the golden record that identities, orders, interactions and journeys point at.

    Email is lower-case and phone E.164 (customers.normalizers). Consent lives in the ConsentEvent ledger;
    `consent` is its current state, kept by customers.services.consent_record. The metrics are derived from
    orders by customers.services.customer_metrics_refresh; nothing else writes them.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +33612345678.")
    birth_date = models.DateField(null=True, blank=True)
    language = models.CharField(max_length=8, blank=True, help_text="Language code, e.g. fr or en.")
    city = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True)
    home_boutique = models.ForeignKey(
        Boutique, null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    advisor = models.ForeignKey(Advisor, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers")
    value_tier = models.CharField(max_length=12, choices=ValueTier.choices, default=ValueTier.PROSPECT)
    preferences = models.JSONField(default=dict, blank=True, help_text='{"sizes": [], "categories": [], "styles": []}')
    advisor_notes = models.TextField(blank=True)
    consent = models.JSONField(default=dict, blank=True, editable=False, help_text="Current consent, from the ledger.")

    # Derived metrics, in the house currency.
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, default=0, editable=False)
    order_count = models.PositiveIntegerField(default=0, editable=False)
    first_order_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_order_at = models.DateTimeField(null=True, blank=True, editable=False)
    average_order_value = models.DecimalField(max_digits=14, decimal_places=2, default=0, editable=False)
    recency_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    frequency_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    monetary_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    last_interaction_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Written by PostgreSQL from the names (customers.search): every writer, raw SQL included, keeps it true.
    name_search = models.GeneratedField(expression=name_search_vector(), output_field=SearchVectorField(),
                                        db_persist=True, editable=False)
    is_anonymized = models.BooleanField(default=False, editable=False)
    anonymized_at = models.DateTimeField(null=True, blank=True, editable=False)
    anonymized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False, related_name="+"
    )

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = "client"
        ordering = ["last_name", "first_name", "pk"]
        permissions = [
            ("merge_customer", "Can merge duplicate clients"),
            ("export_customer_data", "Can export all the data held about a client"),
            ("erase_customer", "Can erase a client's personal data"),
            ("hand_over_clients", "Can hand an advisor's client book over to other advisors"),
        ]
        constraints = [
            # The golden record: one client per email address (blank emails are not addresses).
            models.UniqueConstraint(
                fields=["email"],
                condition=~Q(email=""),
                name="customer_unique_email",
                violation_error_message="Another client already uses this email address; merge the two clients.",
            ),
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=r"^\+[1-9][0-9]{6,14}$"), name="customer_phone_e164"
            ),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="customer_email_lowercase"),
            models.CheckConstraint(condition=Q(lifetime_value__gte=0), name="customer_lifetime_value_not_negative"),
            models.CheckConstraint(condition=stored_range("first_order_at"), name="customer_first_order_at_in_range"),
            models.CheckConstraint(condition=stored_range("last_order_at"), name="customer_last_order_at_in_range"),
            models.CheckConstraint(
                condition=stored_range("last_interaction_at"), name="customer_last_interaction_at_in_range"
            ),
            models.CheckConstraint(
                condition=Q(average_order_value__gte=0), name="customer_average_order_value_not_negative"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{score}__isnull": True}) | Q(**{f"{score}__range": (1, 5)}),
                    name=f"customer_{score}_1_to_5",
                )
                for score in ("recency_score", "frequency_score", "monetary_score")
            ],
        ]
        indexes = [
            models.Index(fields=["phone"], name="customer_phone_idx"),
            models.Index(fields=["home_boutique", "advisor"], name="customer_boutique_advisor_idx"),
            models.Index(fields=["value_tier"], name="customer_value_tier_idx"),
            # A boutique's clients in the list's order: a page of 50 is read off the index, whatever other filter.
            models.Index(fields=["home_boutique", "last_name", "first_name", "id"], name="customer_boutique_name_idx"),
            # A boutique's clients of a tier counted from the index alone (the API's and the list's page count).
            models.Index(fields=["home_boutique", "value_tier"], name="customer_boutique_tier_idx"),
            models.Index(fields=["last_order_at"], name="customer_last_order_idx"),
            models.Index(fields=["-lifetime_value"], name="customer_lifetime_value_idx"),
            models.Index(fields=["updated_at"], name="customer_updated_idx"),
            # The list's name search is a case-insensitive prefix (istartswith): UPPER(name) LIKE 'MAR%'.
            models.Index(OpClass(Upper("last_name"), name="text_pattern_ops"), name="customer_last_name_prefix_idx"),
            models.Index(OpClass(Upper("first_name"), name="text_pattern_ops"), name="customer_first_name_prefix_idx"),
            # Any word, or word start, of the names, accents folded (customers.search).
            GinIndex(fields=["name_search"], name="customer_name_search_idx"),
            # The last digits of a phone number: reverse(phone) LIKE '7195462%'.
            models.Index(OpClass(reversed_phone(), name="text_pattern_ops"), name="customer_phone_suffix_idx"),
            # The consent filter asks consent @> {"email_marketing": true}.
            GinIndex(fields=["consent"], opclasses=["jsonb_path_ops"], name="customer_consent_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or str(self.public_id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def has_consent(self, channel: str, purpose: str = ConsentPurpose.MARKETING) -> bool:
        return bool(self.consent.get(f"{channel}_{purpose}", False))


class CustomerIdentity(models.Model):
    """The client's id in another system (POS, ecommerce, CRM). One (system, id) pair points at one client."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    system = models.CharField(max_length=16, choices=SourceSystem.choices)
    external_id = models.CharField(max_length=128)
    # A database default too: the importer and the benchmark's generator insert identities in raw SQL (trusted: files
    # staff load, data the house made), and a row must never stay unverified by omission.
    is_verified = models.BooleanField(
        default=True,
        db_default=True,
        help_text="The client was created from this record, or it was linked by a verified match (an account with a "
        "verified email, the client at the till, the house CRM). Only a verified record updates the client's name, "
        "email and phone; the others' differences wait for staff as contact conflicts.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "customer identities"
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="identity_unique_per_system"),
            models.CheckConstraint(condition=~Q(external_id=""), name="identity_external_id_not_blank"),
        ]
        indexes = [models.Index(fields=["customer"], name="identity_customer_idx")]

    def __str__(self) -> str:
        return f"{self.system}:{self.external_id}"


class ContactConflict(models.Model):
    """A value a source system gave for a client's profile that Atelier did not apply, because that source does not
    own the record (an unverified email match, such as a guest checkout), or because it only names the client (an
    interaction or an order). Kept for staff to apply or dismiss; never applied silently."""

    class Status(models.TextChoices):
        OPEN = "open", "To review"
        APPLIED = "applied", "Applied"
        DISMISSED = "dismissed", "Dismissed"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contact_conflicts")
    system = models.CharField(max_length=16, choices=SourceSystem.choices)
    external_id = models.CharField(max_length=128, blank=True, help_text="The record's id in that system, if any.")
    field = models.CharField(max_length=32)
    current_value = models.CharField(max_length=254, blank=True)
    proposed_value = models.CharField(max_length=254)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # The same proposal repeated (every later order of a guest checkout) is one conflict to review.
            models.UniqueConstraint(
                fields=["customer", "system", "field", "proposed_value"], condition=Q(status="open"),
                name="contact_conflict_unique_open",
            ),
        ]
        indexes = [models.Index(fields=["status", "customer"], name="contact_conflict_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_system_display()} proposes {self.field} {self.proposed_value!r}"


class ConsentEvent(models.Model):
    """One entry of the consent ledger: a client granted or withdrew consent for a channel and purpose."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    channel = models.CharField(max_length=16, choices=ConsentChannel.choices)
    purpose = models.CharField(max_length=16, choices=ConsentPurpose.choices)
    is_granted = models.BooleanField()
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=SourceSystem.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    wording_version = models.CharField(max_length=40, blank=True, help_text="Version of the consent text shown.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["-occurred_at"], name="consent_occurred_idx")]
        constraints = [
            # One event per client, channel and purpose at one moment: a replayed sync records nothing twice.
            models.UniqueConstraint(
                fields=["customer", "channel", "purpose", "occurred_at"], name="consent_event_unique_moment"
            ),
            models.CheckConstraint(condition=stored_range("occurred_at"), name="consent_event_occurred_at_in_range"),
        ]

    def __str__(self) -> str:
        verb = "granted" if self.is_granted else "withdrew"
        return f"{verb} {self.channel}/{self.purpose} on {self.occurred_at:%Y-%m-%d}"


class CustomerMergeQuerySet(BoutiqueScopedQuerySet):
    boutique_path = "surviving_customer__home_boutique_id"


class CustomerMerge(models.Model):
    """Audit entry of a merge: which record was folded into which, what it held, what moved, and who did it."""

    surviving_customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges")
    merged_public_id = models.UUIDField(db_index=True)
    merged_snapshot = models.JSONField(help_text="The merged record's fields as they were.")
    moved = models.JSONField(default=dict, help_text="How many rows of each kind moved to the surviving record.")
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerMergeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.merged_public_id} → {self.surviving_customer_id}"


class Segment(TimeStampedModel):
    """A saved, named filter over clients (the CustomerFilterSet's parameters) for journeys and dashboards."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    definition = models.JSONField(default=dict, help_text='CustomerFilterSet parameters, e.g. {"value_tier": "vic"}.')
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClientHandover(models.Model):
    """A manager handed an advisor's client book over to one or several advisors (who got how many clients)."""

    from_advisor = models.ForeignKey(Advisor, on_delete=models.PROTECT, related_name="handovers_given")
    boutique = models.ForeignKey(Boutique, on_delete=models.PROTECT, related_name="handovers")
    handed_over_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    allocation = models.JSONField(help_text='{"<advisor id>": <number of clients>, ...}')
    client_count = models.PositiveIntegerField()
    note = models.CharField(max_length=240, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AdvisorQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.client_count} clients of {self.from_advisor} ({self.created_at:%Y-%m-%d})"


class CustomerExternalState(models.Model):
    """What an outside system (the house CRM) last held of a client, field by field, as last received from it or
    sent to it: the common base of a three-way merge.

    A field whose Atelier value differs from the base was changed in Atelier since the two last agreed, so it is
    pushed; a field the system sends with a value other than the base was changed there. A value pulled from the
    system is written to the base as it is applied, so it is never pushed back to the system it came from.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="external_states")
    system = models.CharField(max_length=16, choices=SourceSystem.choices)
    values = models.JSONField(default=dict, blank=True, help_text="Field → value the system last held (JSON).")
    remote_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The system's own timestamp of the latest version applied."
    )
    pulled_at = models.DateTimeField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    # The changes the system last refused (a 4xx): not sent again while the client's pending changes are the same.
    refused_values = models.JSONField(null=True, blank=True, help_text="Changes the system refused (JSON).")
    refused_at = models.DateTimeField(null=True, blank=True)

    objects = BoutiqueScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "system"], name="external_state_unique_per_system"),
        ]

    def __str__(self) -> str:
        return f"{self.system} state of client {self.customer_id}"
