"""Serializers of journeys' API: journeys with their stages, enrollments with their transitions, a stage move."""

from __future__ import annotations

from rest_framework import serializers

from journeys.models import Enrollment, Journey, Stage, Transition
from journeys.services import NOTE_MAX_LENGTH


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "key", "name", "position", "description", "target_days"]
        read_only_fields = fields


class JourneySerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Journey
        fields = ["id", "name", "slug", "description", "is_active", "stages"]
        read_only_fields = fields


class TransitionSerializer(serializers.ModelSerializer):
    from_stage = serializers.IntegerField(source="from_stage_id", read_only=True, allow_null=True)
    to_stage = serializers.IntegerField(source="to_stage_id", read_only=True)
    rule = serializers.IntegerField(source="rule_id", read_only=True, allow_null=True)
    interaction = serializers.IntegerField(source="interaction_id", read_only=True, allow_null=True)
    actor = serializers.SerializerMethodField(help_text="The staff member's username, or the API key that moved.")

    class Meta:
        model = Transition
        fields = ["id", "from_stage", "to_stage", "occurred_at", "cause", "rule", "interaction", "actor", "note"]
        read_only_fields = fields

    def get_actor(self, transition: Transition) -> str:
        return transition.actor.get_username() if transition.actor is not None else transition.actor_label


class EnrollmentSerializer(serializers.ModelSerializer):
    customer = serializers.UUIDField(source="customer.public_id", read_only=True)
    journey = serializers.IntegerField(source="journey_id", read_only=True)
    stage = StageSerializer(read_only=True)
    transitions = TransitionSerializer(many=True, read_only=True)

    class Meta:
        model = Enrollment
        fields = ["id", "customer", "journey", "stage", "stage_entered_at", "enrolled_at", "exited_at", "transitions"]
        read_only_fields = fields


class StageMoveSerializer(serializers.Serializer):
    """Where to move the client (a stage of the enrollment's journey) and why."""

    stage = serializers.PrimaryKeyRelatedField(queryset=Stage.objects.all())
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH, default="")
