"""Whose figures a user sees, and the slices a page or call asks for: one rule for the pages, the API and the
client sets behind the numbers.

An advisor sees their book (the clients assigned to them), a boutique manager their boutique's clients, head office
(and superusers) the house, an API key the clients of its boutiques; anyone else nothing. The boutique is the
client's home boutique, as everywhere in Atelier (customers.scoping).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from customers.filters import requesting_advisor
from customers.models import Advisor
from customers.scoping import visible_boutique_ids


@dataclass(frozen=True)
class Slices:
    """A period and the slices of clients asked for (None: all)."""

    since: dt.date
    until: dt.date
    boutique_id: int | None = None
    advisor_id: int | None = None
    persona_id: int | None = None
    value_tier: str | None = None


@dataclass(frozen=True)
class Scope:
    """The clients a user's figures cover: boutique_ids None for every boutique; advisor_id for an advisor's book."""

    boutique_ids: list[int] | None
    advisor_id: int | None = None

    @property
    def is_empty(self) -> bool:
        return self.boutique_ids == []


def insight_scope(user: Any) -> Scope:
    """The clients whose figures `user` may see."""
    boutique_ids = visible_boutique_ids(user)
    advisor = requesting_advisor(user)
    if advisor is not None and advisor.is_active and advisor.role == Advisor.Role.ADVISOR:
        return Scope(boutique_ids=boutique_ids, advisor_id=advisor.pk)
    return Scope(boutique_ids=boutique_ids)


def conditions(scope: Scope, slices: Slices) -> tuple[str, list[Any]]:
    """SQL conditions (and their parameters) on a rollup's boutique_id, advisor_id, persona_id and value_tier
    columns, for the scope and the slices. A scope that covers nothing matches nothing."""
    parts: list[str] = []
    params: list[Any] = []
    if scope.boutique_ids is not None:
        parts.append("boutique_id = ANY(%s)")
        params.append(list(scope.boutique_ids))
    if scope.advisor_id is not None:
        parts.append("advisor_id = %s")
        params.append(scope.advisor_id)
    for column in ("boutique_id", "advisor_id", "persona_id", "value_tier"):
        value = getattr(slices, column, None)
        if value is not None:
            parts.append(f"{column} = %s")
            params.append(value)
    return "".join(f" AND {part}" for part in parts), params
