from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The clienteling desk: the staff pages that bring every app together (the client page, the advisor's day)."""

    name = "desk"
    verbose_name = "Clienteling"
