"""How survey answers read on the client timeline of the API (registered in FeedbackConfig.ready())."""

from __future__ import annotations

from rest_framework import serializers

from feedback.models import Response


class ResponseTimelineSerializer(serializers.ModelSerializer):
    survey = serializers.CharField(source="survey.name", read_only=True)

    class Meta:
        model = Response
        fields = ["id", "survey", "score", "nps_class", "comment", "stage_key", "responded_at"]
