from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "feedback"

    def ready(self) -> None:
        from customers.services import register_merge_handler
        from feedback.services import move_feedback

        register_merge_handler(move_feedback)
