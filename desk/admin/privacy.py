"""Privacy actions on a client: export everything held about them, erase their personal data."""


class PrivacyActionsMixin:
    """Mixed into CustomerAdmin (desk.admin.customer). Its admin actions are named in `privacy_actions`."""

    privacy_actions: tuple[str, ...] = ()
