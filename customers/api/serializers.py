"""What the API shows of clients and the house's reference data. Read only: writes go through services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from customers.models import Advisor, Boutique, Customer, CustomerIdentity, Persona, Segment


class BoutiqueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Boutique
        fields = ["id", "code", "name", "city", "country", "timezone", "currency"]


class BoutiqueBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Boutique
        fields = ["id", "code", "name"]


class AdvisorSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)
    boutique_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Advisor
        fields = ["id", "name", "boutique_id", "role", "is_active"]


class AdvisorBriefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Advisor
        fields = ["id", "name"]


class PersonaSerializer(serializers.ModelSerializer):
    preferred_channels = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Persona
        fields = ["id", "slug", "name", "description", "motivations", "pain_points", "preferred_channels"]


class PersonaBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Persona
        fields = ["id", "slug", "name"]


class SegmentSerializer(serializers.ModelSerializer):
    definition = serializers.DictField(read_only=True, help_text="CustomerFilterSet parameters.")

    class Meta:
        model = Segment
        fields = ["id", "slug", "name", "description", "definition", "created_at", "updated_at"]


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerIdentity
        fields = ["system", "external_id"]


class CustomerMetricsSerializer(serializers.ModelSerializer):
    """Derived from the client's orders, in the house currency."""

    class Meta:
        model = Customer
        fields = [
            "lifetime_value", "order_count", "first_order_at", "last_order_at", "average_order_value",
            "recency_score", "frequency_score", "monetary_score", "last_interaction_at",
        ]


class ConsentSerializer(serializers.Serializer):
    """The current consent, derived from the ledger: one flag per channel and purpose."""

    email_marketing = serializers.BooleanField(default=False)
    sms_marketing = serializers.BooleanField(default=False)
    phone_marketing = serializers.BooleanField(default=False)
    messaging_marketing = serializers.BooleanField(default=False)
    email_service = serializers.BooleanField(default=False)
    sms_service = serializers.BooleanField(default=False)
    phone_service = serializers.BooleanField(default=False)
    messaging_service = serializers.BooleanField(default=False)

    def to_representation(self, instance: dict) -> dict:
        return {name: bool(instance.get(name, False)) for name in self.fields}


class PreferencesSerializer(serializers.Serializer):
    sizes = serializers.ListField(child=serializers.CharField(), required=False)
    categories = serializers.ListField(child=serializers.CharField(), required=False)
    styles = serializers.ListField(child=serializers.CharField(), required=False)

    def to_representation(self, instance: dict) -> dict:
        return {name: list(instance.get(name) or []) for name in self.fields}


class CustomerSerializer(serializers.ModelSerializer):
    """A client with what integrations most often need; the metrics and consent are read only, always."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    home_boutique = BoutiqueBriefSerializer(read_only=True, allow_null=True)
    advisor = AdvisorBriefSerializer(read_only=True, allow_null=True)
    persona = PersonaBriefSerializer(read_only=True, allow_null=True)
    identities = IdentitySerializer(many=True, read_only=True)
    consent = ConsentSerializer(read_only=True)
    preferences = PreferencesSerializer(read_only=True)
    metrics = CustomerMetricsSerializer(source="*", read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id", "first_name", "last_name", "email", "phone", "birth_date", "language", "city", "country",
            "home_boutique", "advisor", "persona", "value_tier", "identities", "consent", "preferences", "metrics",
            "is_anonymized", "created_at", "updated_at",
        ]

    def to_representation(self, customer: Customer) -> dict[str, Any]:
        # Written out rather than DRF's generic walk over sixty fields and seven nested serializers, which took
        # ~1 ms a client: most of a list page's time. The declared fields above still make the schema, dates and
        # amounts are formatted by those same fields, and tests/api/test_read_endpoints.py holds this equal to
        # the generic representation.
        fields, metrics = self.fields, self.fields["metrics"].fields
        boutique, advisor, persona = customer.home_boutique, customer.advisor, customer.persona
        consent, preferences = customer.consent or {}, customer.preferences or {}
        return {
            "id": str(customer.public_id),
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "birth_date": _or_none(fields["birth_date"], customer.birth_date),
            "language": customer.language,
            "city": customer.city,
            "country": customer.country,
            "home_boutique": (
                {"id": boutique.pk, "code": boutique.code, "name": boutique.name} if boutique is not None else None
            ),
            "advisor": {"id": advisor.pk, "name": str(advisor)} if advisor is not None else None,
            "persona": (
                {"id": persona.pk, "slug": persona.slug, "name": persona.name} if persona is not None else None
            ),
            "value_tier": customer.value_tier,
            "identities": [
                {"system": identity.system, "external_id": identity.external_id}
                for identity in customer.identities.all()
            ],
            "consent": {name: bool(consent.get(name, False)) for name in CONSENT_NAMES},
            "preferences": {name: list(preferences.get(name) or []) for name in PREFERENCE_NAMES},
            "metrics": {
                "lifetime_value": metrics["lifetime_value"].to_representation(customer.lifetime_value),
                "order_count": customer.order_count,
                "first_order_at": _or_none(metrics["first_order_at"], customer.first_order_at),
                "last_order_at": _or_none(metrics["last_order_at"], customer.last_order_at),
                "average_order_value": metrics["average_order_value"].to_representation(
                    customer.average_order_value
                ),
                "recency_score": customer.recency_score,
                "frequency_score": customer.frequency_score,
                "monetary_score": customer.monetary_score,
                "last_interaction_at": _or_none(metrics["last_interaction_at"], customer.last_interaction_at),
            },
            "is_anonymized": customer.is_anonymized,
            "created_at": fields["created_at"].to_representation(customer.created_at),
            "updated_at": fields["updated_at"].to_representation(customer.updated_at),
        }


@dataclass(frozen=True)
class DetailSection:
    """A section a higher app adds to one client's representation (`/customers/{id}/`), registered in its
    AppConfig.ready() so that customers never imports it. `field()` makes a read-only field with `source="*"`: it
    declares the section for the schema and represents it from the client (it runs for one client, so one query of
    its own is fine)."""

    name: str
    field: Callable[[], serializers.Field]


_detail_sections: dict[str, DetailSection] = {}


def register_detail_section(section: DetailSection) -> None:
    _detail_sections[section.name] = section


class CustomerDetailSerializer(CustomerSerializer):
    """One client, with the advisor's notes and the sections higher apps register (insight's prediction)."""

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "advisor_notes"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for section in _detail_sections.values():
            fields[section.name] = section.field()
        return fields

    def to_representation(self, customer: Customer) -> dict[str, Any]:
        fields = self.fields
        sections = {name: fields[name].to_representation(customer) for name in _detail_sections}
        return {**super().to_representation(customer), "advisor_notes": customer.advisor_notes, **sections}


CONSENT_NAMES = tuple(ConsentSerializer().fields)
PREFERENCE_NAMES = tuple(PreferencesSerializer().fields)


def _or_none(field: serializers.Field, value: Any) -> Any:
    return None if value is None else field.to_representation(value)
