"""How stage moves and follow-ups read on the client timeline of the API (registered in JourneysConfig.ready())."""

from __future__ import annotations

from rest_framework import serializers

from journeys.models import FollowUp, Transition


class TransitionTimelineSerializer(serializers.ModelSerializer):
    journey = serializers.CharField(source="enrollment.journey.name", read_only=True)
    from_stage = serializers.CharField(source="from_stage.name", read_only=True, allow_null=True, default=None)
    to_stage = serializers.CharField(source="to_stage.name", read_only=True)
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Transition
        fields = ["id", "journey", "from_stage", "to_stage", "occurred_at", "cause", "actor", "note"]

    def get_actor(self, transition: Transition) -> str | None:
        """The staff member, or the API key, that moved the client; none for rules and imports."""
        if transition.actor is not None:
            return transition.actor.get_full_name() or transition.actor.get_username()
        return transition.actor_label or None


class FollowUpTimelineSerializer(serializers.ModelSerializer):
    template = serializers.CharField(source="template.name", read_only=True)
    advisor = serializers.CharField(source="advisor.__str__", read_only=True, allow_null=True, default=None)

    class Meta:
        model = FollowUp
        fields = ["id", "template", "channel", "due_at", "status", "sent_at", "outcome", "advisor", "subject"]
