from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"

    def ready(self) -> None:
        # Journeys adds its stage moves and follow-ups to the timeline, its rows to client merges, and listens to
        # new touchpoints (apps depend one way: touchpoints calls what journeys registers here).
        from customers.services import register_merge_handler
        from journeys import selectors, services
        from journeys.api.timeline import FollowUpTimelineSerializer, TransitionTimelineSerializer
        from journeys.tasks import interactions_listener, queue_attribution
        from touchpoints.api.timeline import register_timeline_serializer
        from touchpoints.events import register_interactions_listener
        from touchpoints.selectors import register_timeline_source

        register_timeline_source(selectors.transition_timeline_source())
        register_timeline_source(selectors.followup_timeline_source())
        register_timeline_serializer("transition", TransitionTimelineSerializer)
        register_timeline_serializer("followup", FollowUpTimelineSerializer)
        register_merge_handler(services.move_journeys)
        # Every interaction committed, whatever recorded it (admin, API, webhook, sync, an import that opts in),
        # goes through the journey rules in a task; orders among them are attributed to the follow-ups before them.
        register_interactions_listener(interactions_listener)
        register_interactions_listener(queue_attribution)
        # The contact-pressure policy every message obeys counts the follow-ups sent, and respects hands-off.
        from journeys.services.dispatch import CONTACT_LOG, customer_on_hands_off, followup_contact_log
        from touchpoints.contact_pressure import register_contact_log, register_hands_off_check

        register_contact_log(CONTACT_LOG, followup_contact_log)
        register_hands_off_check(customer_on_hands_off)
