from django.apps import AppConfig


class TouchpointsConfig(AppConfig):
    name = "touchpoints"

    def ready(self) -> None:
        from customers.services import register_merge_handler
        from touchpoints.services.merge import move_touchpoints

        register_merge_handler(move_touchpoints)
