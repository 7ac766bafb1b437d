"""Taking a client import back: its clients, identities and consent events removed, the fields it changed restored.

Set-based, so that taking back a million-row import is a handful of statements, not a million: imports hands
customers_restore SELECTs over the batch's ImportChange rows (the journal), and customers writes its tables.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from core.bulk import RowsQuery
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services.restore import customers_restore
from imports.models import ImportBatch, ImportChange
from imports.pipeline.records import _refuse_when_used

CHANGES = ImportChange._meta.db_table


def rollback_customer_import(batch: ImportBatch) -> None:
    """Remove the clients, identities and consent events the batch created, put back the fields it changed, and
    recompute the consent of the clients it touched. Refused (ApplicationError) when something recorded since
    depends on a client it created. Runs inside import_rollback's transaction and history context."""
    types = {model: ContentType.objects.get_for_model(model).pk for model in (Customer, CustomerIdentity,
                                                                                ConsentEvent)}

    def created(model: type) -> RowsQuery:
        return RowsQuery(f"SELECT object_id FROM {CHANGES} WHERE batch_id = %s AND content_type_id = %s "  # noqa: S608
                         "AND action = %s", [batch.pk, types[model], ImportChange.Action.CREATED])

    # Anything but the import's own identities and consent events pointing at a created client refuses it.
    _refuse_when_used(Customer, batch.changes.filter(content_type_id=types[Customer],
                                                     action=ImportChange.Action.CREATED).values("object_id"),
                      own=("identities", "consent_events"))
    # A client changed by two chunks of the file keeps, field by field, the value before the first change.
    before = RowsQuery(
        f"""
        SELECT object_id, jsonb_object_agg(key, value) FROM (
            SELECT DISTINCT ON (ch.object_id, field.key) ch.object_id, field.key, field.value
            FROM {CHANGES} AS ch, jsonb_each(ch.before) AS field
            WHERE ch.batch_id = %s AND ch.content_type_id = %s AND ch.action = %s
            ORDER BY ch.object_id, field.key, ch.id
        ) AS earliest GROUP BY object_id
        """,  # noqa: S608
        [batch.pk, types[Customer], ImportChange.Action.UPDATED],
    )
    customers_restore(before=before, created=created(Customer), identities_created=created(CustomerIdentity),
                      consent_events_created=created(ConsentEvent))
