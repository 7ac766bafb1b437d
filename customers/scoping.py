"""Who may see which clients: one rule, used by the admin, the API, exports and selectors alike.

Head office (and superusers) see every client; advisors and boutique managers see the clients of their boutique
(the client's home boutique); anyone else sees none. An integration calling the API with a key (a principal with
`is_api_key`, see integrations.authentication) sees the clients of the key's boutiques (`boutique_ids`, None for
every boutique); this module reads those two attributes only, so it needs nothing from the app above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from core.errors import ApplicationError

_CACHE_ATTRIBUTE = "_atelier_boutique_scope"


def visible_boutique_ids(user: Any) -> list[int] | None:
    """The boutiques whose clients `user` may see: None means every boutique, [] means none."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if getattr(user, "is_api_key", False):
        return None if user.boutique_ids is None else list(user.boutique_ids)
    if hasattr(user, _CACHE_ATTRIBUTE):
        return getattr(user, _CACHE_ATTRIBUTE)
    from customers.models import Advisor

    if user.is_superuser:
        scope = None
    else:
        advisor = Advisor.objects.filter(user=user, is_active=True).values_list("role", "boutique_id").first()
        if advisor is None:
            scope = []
        elif advisor[0] == Advisor.Role.HEAD_OFFICE:
            scope = None
        else:
            scope = [advisor[1]] if advisor[1] else []
    setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope


def forget_scope(user: Any) -> None:
    """After a role or boutique change, the next check reads the advisor again."""
    if hasattr(user, _CACHE_ATTRIBUTE):
        delattr(user, _CACHE_ATTRIBUTE)


class BoutiqueScopedQuerySet(models.QuerySet):
    """A queryset whose rows belong to a client: `visible_to(user)` keeps those of the clients the user may see.

    `boutique_path` is the lookup from the row to the client's home boutique id.
    """

    boutique_path = "customer__home_boutique_id"

    def visible_to(self, user: Any) -> BoutiqueScopedQuerySet:
        boutique_ids = visible_boutique_ids(user)
        if boutique_ids is None:
            return self
        if not boutique_ids:
            return self.none()
        return self.filter(**{f"{self.boutique_path}__in": boutique_ids})



def may_read_clients(user: Any) -> bool:
    """Whether `user` may learn who a record belongs to: a key with customers:read, or staff who see clients."""
    if getattr(user, "is_api_key", False):
        return "customers:read" in user.scopes
    return bool(user is not None and user.is_authenticated and user.has_perm("customers.view_customer"))


def may_write_clients(user: Any) -> bool:
    """Whether `user` may find or create clients by their identity: a key with customers:write, or staff who edit
    clients."""
    if getattr(user, "is_api_key", False):
        return "customers:write" in user.scopes
    return bool(user is not None and user.is_authenticated and user.has_perm("customers.change_customer"))


class BoutiqueQuerySet(BoutiqueScopedQuerySet):
    """Boutiques themselves: a staff member reaches their own boutique; head office reaches every boutique."""

    boutique_path = "pk"


OUT_OF_REACH = "This client is out of your reach."


def require_reach(user: Any, boutique_ids: Iterable[int | None], *, field: str = "non_field_errors",
                  message: str = OUT_OF_REACH) -> None:
    """Refuse a staff write that touches a boutique `user` may not reach (None stands for no boutique at all,
    which only head office reaches). Write services call it themselves, whatever form or view called them: a form's
    choices are a convenience, not the guard. `user` None is the system itself (a sync, a task): no check."""
    if user is None:
        return
    scope = visible_boutique_ids(user)
    if scope is None:
        return
    if any(boutique_id is None or boutique_id not in scope for boutique_id in boutique_ids):
        raise ApplicationError.for_field(field, message)
