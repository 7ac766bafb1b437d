from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        # Feedback adds survey responses to the timeline and its rows to client merges, and listens to new touchpoints
        # (apps depend one way: touchpoints calls what feedback registers here).
        from customers.services import register_merge_handler
        from feedback.api.timeline import (
            RecoveryEventTimelineSerializer,
            ResponseTimelineSerializer,
            SurveyMessageTimelineSerializer,
        )
        from feedback.selectors import (
            recovery_event_timeline_source,
            response_timeline_source,
            survey_message_timeline_source,
        )
        from feedback.services import move_feedback
        from feedback.tasks import interactions_listener
        from touchpoints.api.timeline import register_timeline_serializer
        from touchpoints.events import register_interactions_listener
        from touchpoints.selectors import register_timeline_source

        register_timeline_source(response_timeline_source())
        register_timeline_source(recovery_event_timeline_source())
        register_timeline_source(survey_message_timeline_source())
        register_timeline_serializer("recovery", RecoveryEventTimelineSerializer)
        register_timeline_serializer("survey_message", SurveyMessageTimelineSerializer)
        register_timeline_serializer("response", ResponseTimelineSerializer)
        register_merge_handler(move_feedback)
        # Every interaction committed, whatever recorded it (admin, API, webhook, sync, an import that opts in),
        # schedules the invitations of the surveys it triggers, in a task.
        register_interactions_listener(interactions_listener)
        # Survey messages are sent by the follow-up dispatcher through these outboxes, obey the house's
        # contact-pressure policy, and count against its frequency cap (feedback.services.sending).
        from feedback.services.sending import (
            INVITATION_LOG,
            MESSAGE_LOG,
            InvitationOutbox,
            SurveyMessageOutbox,
            invitation_contact_log,
            message_contact_log,
        )
        from touchpoints.contact_pressure import register_contact_log
        from touchpoints.outbox import register_outbox

        register_contact_log(INVITATION_LOG, invitation_contact_log)
        register_contact_log(MESSAGE_LOG, message_contact_log)
        register_outbox(InvitationOutbox())
        register_outbox(SurveyMessageOutbox())
