from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        # Feedback adds survey responses to the timeline and its rows to client merges (apps depend one way).
        from customers.services import register_merge_handler
        from feedback.api.timeline import ResponseTimelineSerializer
        from feedback.selectors import response_timeline_source
        from feedback.services import move_feedback
        from touchpoints.api.timeline import register_timeline_serializer
        from touchpoints.selectors import register_timeline_source

        register_timeline_source(response_timeline_source())
        register_timeline_serializer("response", ResponseTimelineSerializer)
        register_merge_handler(move_feedback)
