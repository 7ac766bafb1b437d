"""What the API shows of clients and the house's reference data. Read only: writes go through services."""

from __future__ import annotations

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


class CustomerDetailSerializer(CustomerSerializer):
    """One client, with the advisor's notes."""

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "advisor_notes"]
