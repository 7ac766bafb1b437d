from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"

    def ready(self) -> None:
        # Journeys adds its stage moves and follow-ups to the timeline and its rows to client merges (apps depend
        # one way).
        from customers.services import register_merge_handler
        from journeys import selectors, services
        from journeys.api.timeline import FollowUpTimelineSerializer, TransitionTimelineSerializer
        from touchpoints.api.timeline import register_timeline_serializer
        from touchpoints.selectors import register_timeline_source

        register_timeline_source(selectors.transition_timeline_source())
        register_timeline_source(selectors.followup_timeline_source())
        register_timeline_serializer("transition", TransitionTimelineSerializer)
        register_timeline_serializer("followup", FollowUpTimelineSerializer)
        register_merge_handler(services.move_journeys)

        # Every interaction committed, whatever recorded it (admin, API, webhook, sync, an import that opts in),
        # goes through the journey rules in a task.
        from journeys.tasks import interactions_listener
        from touchpoints.events import register_interactions_listener

        register_interactions_listener(interactions_listener)
