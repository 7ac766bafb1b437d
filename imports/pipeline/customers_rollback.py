"""Taking a client import back: its clients, identities and consent events removed, the fields it changed restored.

Set-based, so that taking back a million-row import is a handful of statements, not a million: the changed fields
come back in one UPDATE from the batch's ImportChange rows, created rows go in one DELETE per table.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection

from core.errors import ApplicationError
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services.consent import consent_refresh_many
from imports.models import ImportBatch, ImportChange
from imports.pipeline.constants import WRITTEN_FIELDS
from imports.pipeline.records import _refuse_when_used


def rollback_customer_import(batch: ImportBatch) -> None:
    """Remove the clients, identities and consent events the batch created, put back the fields it changed, and
    recompute the consent of the clients it touched. Refused (ApplicationError) when something recorded since
    depends on a client it created. Runs inside import_rollback's transaction and history context."""
    types = {model: ContentType.objects.get_for_model(model) for model in (Customer, CustomerIdentity, ConsentEvent)}
    changes = batch.changes.all()

    def created(model: type) -> object:
        return changes.filter(content_type=types[model], action=ImportChange.Action.CREATED).values("object_id")

    created_clients = created(Customer)
    # A created client's identities and consent events are the import's own (they were not recorded as changes of
    # their own); anything else pointing at a created client refuses the rollback.
    own = {"customer_id__in": created_clients}
    CustomerIdentity.objects.filter(**own).delete()
    ConsentEvent.objects.filter(**own).delete()
    _refuse_when_used(Customer, created_clients)

    touched = set(ConsentEvent.objects.filter(pk__in=created(ConsentEvent)).values_list("customer_id", flat=True))
    ConsentEvent.objects.filter(pk__in=created(ConsentEvent)).delete()
    CustomerIdentity.objects.filter(pk__in=created(CustomerIdentity)).delete()
    touched.update(_restore_changed_fields(batch, types[Customer].pk))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Customer._meta.db_table} WHERE id IN (SELECT object_id FROM "  # noqa: S608
            f"{ImportChange._meta.db_table} WHERE batch_id = %s AND content_type_id = %s AND action = %s)",
            [batch.pk, types[Customer].pk, ImportChange.Action.CREATED],
        )
    consent_refresh_many(customer_ids=sorted(touched))


def _restore_changed_fields(batch: ImportBatch, content_type_id: int) -> list[int]:
    """One UPDATE: each changed field gets the value it had before the batch's first change of it (a client
    changed by two chunks of the file keeps the older value). Returns the clients restored."""
    assignments = ", ".join(
        f"{name} = CASE WHEN b.before ? '{name}' THEN "
        + (f"b.before->'{name}'" if name == "preferences" else f"(b.before->>'{name}')::{kind}")
        + f" ELSE c.{name} END"
        for name, kind in WRITTEN_FIELDS.items()
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {Customer._meta.db_table} AS c SET {assignments}, updated_at = statement_timestamp()
                FROM (
                    SELECT object_id, jsonb_object_agg(key, value) AS before FROM (
                        SELECT DISTINCT ON (ch.object_id, field.key) ch.object_id, field.key, field.value
                        FROM {ImportChange._meta.db_table} AS ch, jsonb_each(ch.before) AS field
                        WHERE ch.batch_id = %s AND ch.content_type_id = %s AND ch.action = %s
                        ORDER BY ch.object_id, field.key, ch.id
                    ) AS earliest GROUP BY object_id
                ) AS b
                WHERE c.id = b.object_id
                RETURNING c.id
                """,  # noqa: S608
                [batch.pk, content_type_id, ImportChange.Action.UPDATED],
            )
            return [pk for (pk,) in cursor.fetchall()]
    except IntegrityError:
        raise ApplicationError(
            "A client's former email address is now used by another client, so the import cannot be rolled "
            "back; merge or correct the clients first."
        ) from None
