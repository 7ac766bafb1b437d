"""The client list: search, filters, columns and the actions staff run on a selection."""


class ClientListMixin:
    """Mixed into CustomerAdmin (desk.admin.customer). Its admin actions are named in `list_actions`."""

    list_actions: tuple[str, ...] = ()
