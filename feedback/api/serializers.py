"""Serializers of feedback's API: the answers as read, and the body a recorded answer takes (described for the
schema; the rules are feedback.services.response_upsert's)."""

from __future__ import annotations

from rest_framework import serializers

from customers.models import SourceSystem
from feedback.models import Response
from feedback.services.answers import COMMENT_MAX_LENGTH
from touchpoints.api.serializers import HidesClientMixin

ID_MAX = 2**63 - 1


class ResponseSerializer(HidesClientMixin, serializers.ModelSerializer):
    survey = serializers.IntegerField(source="survey_id", read_only=True)
    survey_name = serializers.CharField(source="survey.name", read_only=True)
    survey_kind = serializers.CharField(source="survey.kind", read_only=True)
    customer = serializers.UUIDField(source="customer.public_id", read_only=True, allow_null=True)
    boutique = serializers.CharField(source="customer.home_boutique.code", read_only=True, allow_null=True,
                                     default=None, help_text="The client's boutique (code).")
    advisor = serializers.IntegerField(source="customer.advisor_id", read_only=True, allow_null=True,
                                       help_text="The client's advisor (id).")

    class Meta:
        model = Response
        fields = ["id", "survey", "survey_name", "survey_kind", "customer", "boutique", "advisor", "score",
                  "nps_class", "comment", "answers", "stage_key", "responded_at", "source", "external_id",
                  "created_at"]
        read_only_fields = fields


class ResponseClientSerializer(serializers.Serializer):
    """The client by their identity in a system, their email or their phone: found (never created)."""

    system = serializers.ChoiceField(choices=SourceSystem.choices, required=False)
    external_id = serializers.CharField(required=False, max_length=128)
    email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False, max_length=32)


class ResponseInputSerializer(serializers.Serializer):
    """One answer to record, or to complete (the same source and external_id again: a comment, more answers, a
    changed score). Name the client by `customer` (public id) or `client` (identity, email or phone)."""

    survey = serializers.IntegerField(min_value=1, max_value=ID_MAX, help_text="The survey's id.")
    customer = serializers.UUIDField(required=False)
    client = ResponseClientSerializer(required=False)
    score = serializers.IntegerField(min_value=0, max_value=10, help_text="On the survey's scale: NPS 0-10, CSAT 1-5.")
    responded_at = serializers.DateTimeField(help_text="ISO 8601 with its time zone.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX_LENGTH, default="")
    answers = serializers.DictField(required=False, help_text="Further answers, by question.")
    source = serializers.ChoiceField(choices=Response.Source.choices)
    external_id = serializers.CharField(max_length=128, help_text="The source's id: one answer per (source, "
                                        "external_id); the same again completes it.")


class NpsFigureSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True, help_text="The survey's, boutique's or advisor's id, or the month "
                                "(YYYY-MM); null for clients without a boutique or advisor.")
    label = serializers.CharField()
    n = serializers.IntegerField(help_text="NPS answers counted.")
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()
    nps = serializers.FloatField(help_text="Promoters' share minus detractors', in points (-100 to 100).")
    ci_low = serializers.FloatField(help_text="The 95% confidence interval's lower end.")
    ci_high = serializers.FloatField(help_text="The 95% confidence interval's upper end.")
    is_small_sample = serializers.BooleanField(help_text="Fewer than 30 answers: too unsteady to be read alone.")
    warning = serializers.CharField(allow_blank=True)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["key"] = None if instance.key is None else str(instance.key)
        return data


class NpsReportSerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=["survey", "boutique", "advisor", "month"])
    results = NpsFigureSerializer(many=True)
