"""Taking a batch of client writes back (an import's rollback): former field values restored and created clients,
identities and consent events removed, set-based, from the journal the caller kept of what it changed.

The caller (imports) keeps that journal in its own tables; it hands this service SELECTs over it (core.bulk.RowsQuery)
so that taking back a million rows is a handful of statements, and only customers writes its tables.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from core.bulk import RowsQuery
from core.errors import ApplicationError
from customers.matching import WRITTEN_FIELDS
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services.consent import consent_refresh_many


def _ids(query: RowsQuery) -> tuple[str, list[object]]:
    return f"SELECT id FROM ({query.sql}) AS ids(id)", list(query.params)


@transaction.atomic
def customers_restore(*, before: RowsQuery, created: RowsQuery, identities_created: RowsQuery,
                      consent_events_created: RowsQuery) -> list[int]:
    """Take back a batch of client writes, each argument a SELECT over the caller's journal:

    - `before`: (client id, JSON object of field -> former value), one row per client (the earliest value of a
      field changed twice); each field named gets its former value back;
    - `created`: (client id) of the clients created, removed with their identities and consent events;
    - `identities_created`, `consent_events_created`: (id) of those added to clients that existed.

    Refused (ApplicationError) when a former email is now another client's, or when anything recorded since
    (an order, an interaction) points at a created client. The clients whose consent events were removed or whose
    fields came back get their consent derived again. Returns the clients restored.
    """
    created_sql, created_params = _ids(created)
    touched: set[int] = set()
    with connection.cursor() as cursor:
        # A created client's identities and consent events are the batch's own.
        for model in (CustomerIdentity, ConsentEvent):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE customer_id IN ({created_sql})",  # noqa: S608
                created_params,
            )
        events_sql, events_params = _ids(consent_events_created)
        cursor.execute(
            f"DELETE FROM {ConsentEvent._meta.db_table} WHERE id IN ({events_sql}) RETURNING customer_id",  # noqa: S608
            events_params,
        )
        touched.update(pk for (pk,) in cursor.fetchall())
        identities_sql, identities_params = _ids(identities_created)
        cursor.execute(
            f"DELETE FROM {CustomerIdentity._meta.db_table} WHERE id IN ({identities_sql})",  # noqa: S608
            identities_params,
        )
    restored = _restore_fields(before)
    touched.update(restored)
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute(
                    f"DELETE FROM {Customer._meta.db_table} WHERE id IN ({created_sql})",  # noqa: S608
                    created_params,
                )
        except IntegrityError:
            raise ApplicationError(
                "Records added since depend on clients this batch created; it cannot be taken back."
            ) from None
    consent_refresh_many(customer_ids=sorted(touched))
    return restored


def _restore_fields(before: RowsQuery) -> list[int]:
    """One UPDATE: each field named in a client's `before` gets that value back."""
    assignments = ", ".join(
        f"{name} = CASE WHEN b.before ? '{name}' THEN "
        + (f"b.before->'{name}'" if kind == "jsonb" else f"(b.before->>'{name}')::{kind}")
        + f" ELSE c.{name} END"
        for name, kind in WRITTEN_FIELDS.items()
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Customer._meta.db_table} AS c SET {assignments}, updated_at = statement_timestamp() "  # noqa: S608
                f"FROM ({before.sql}) AS b(object_id, before) WHERE c.id = b.object_id RETURNING c.id",
                list(before.params),
            )
            return [pk for (pk,) in cursor.fetchall()]
    except IntegrityError:
        raise ApplicationError(
            "A client's former email address is now used by another client, so the import cannot be rolled "
            "back; merge or correct the clients first."
        ) from None
