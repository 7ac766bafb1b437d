"""How survey answers read on the client timeline of the API (registered in FeedbackConfig.ready())."""

from __future__ import annotations

from rest_framework import serializers

from feedback.models import RecoveryEvent, Response, SurveyMessage


class ResponseTimelineSerializer(serializers.ModelSerializer):
    survey = serializers.CharField(source="survey.name", read_only=True)

    class Meta:
        model = Response
        fields = ["id", "survey", "score", "nps_class", "comment", "stage_key", "responded_at"]


class RecoveryEventTimelineSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id", read_only=True)

    class Meta:
        model = RecoveryEvent
        fields = ["id", "case", "kind", "occurred_at", "note"]


class SurveyMessageTimelineSerializer(serializers.ModelSerializer):
    survey = serializers.CharField(source="survey.name", read_only=True)

    class Meta:
        model = SurveyMessage
        fields = ["id", "survey", "kind", "number", "channel", "sent_at"]
