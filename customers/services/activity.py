"""A client's last interaction (`last_interaction_at`): the one writer of that column, set-based.

Touchpoints calls these when it records interactions (or removes them: a rollback, an erasure), so that the client
table is written only by customers (STYLE.md: an app writes only its own tables).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import connection

from customers.models import Customer

_TABLE = Customer._meta.db_table


def customers_last_interaction_record_many(*, moments: Mapping[int, dt.datetime]) -> int:
    """Move each client's last interaction on to the given moment (client id -> moment), never back: one statement
    for the batch. Returns how many clients changed."""
    if not moments:
        return 0
    ids = sorted(moments)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} AS c SET last_interaction_at = v.moment "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, moment) "
            "WHERE c.id = v.id AND (c.last_interaction_at IS NULL OR c.last_interaction_at < v.moment)",
            [ids, [moments[pk] for pk in ids]],
        )
        return cursor.rowcount


def customers_last_interaction_reset_many(*, customer_ids: Iterable[int], latest: Mapping[int, dt.datetime | None]
                                          ) -> int:
    """Set each client's last interaction to the latest one left on their timeline (`latest`: client id -> moment,
    absent or None when none is left), after interactions were removed. Returns how many clients changed."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} AS c SET last_interaction_at = v.moment "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, moment) "
            "WHERE c.id = v.id AND c.last_interaction_at IS DISTINCT FROM v.moment",
            [ids, [latest.get(pk) for pk in ids]],
        )
        return cursor.rowcount
