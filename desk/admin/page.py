"""The client page (customer 360): header, timeline, journeys, quick actions, history."""


class ClientPageMixin:
    """Mixed into CustomerAdmin (desk.admin.customer)."""
