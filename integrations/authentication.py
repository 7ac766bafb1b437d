"""Who is calling the API: a staff member by session, or an integration by `Authorization: Api-Key <key>`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework_api_key.permissions import KeyParser

from integrations.models import ApiKey

# The key's last use is written at most this often: one UPDATE a minute, not one per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiKeyPrincipal:
    """`request.user` for a call made with an API key (`request.auth` is the key itself).

    It is no staff user: it holds no Django permission, its scopes say what it may call, and
    `boutique_ids` (None for every boutique) is what customers.scoping limits its clients to.
    """

    is_api_key = True
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: ApiKey, boutique_ids: list[int] | None) -> None:
        self.api_key = api_key
        self.scopes = frozenset(api_key.scopes)
        self.boutique_ids = boutique_ids
        self.principal_id = f"key:{api_key.prefix}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        return False

    def get_username(self) -> str:
        return self.principal_id

    def __str__(self) -> str:
        return f"API key {self.api_key.name} ({self.api_key.prefix})"


def api_key_record_use(*, api_key: ApiKey) -> None:
    """Note that the key was just used, unless that was noted less than a minute ago."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so concurrent requests of the same minute write once.
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` (the header djangorestframework-api-key reads). A wrong, revoked or expired
    key is a 401; without the header the next authenticator (the staff session) is tried."""

    keyword = KeyParser.keyword
    key_parser = KeyParser()

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        key = self.key_parser.get(request)
        if key is None:
            return None
        try:
            api_key = ApiKey.objects.get_from_key(key)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        api_key_record_use(api_key=api_key)
        boutique_ids = list(api_key.boutiques.values_list("pk", flat=True))
        return ApiKeyPrincipal(api_key, boutique_ids or None), api_key

    def authenticate_header(self, request: Request) -> str:
        # Having one makes DRF answer an anonymous call 401 (with WWW-Authenticate) rather than 403.
        return self.keyword
