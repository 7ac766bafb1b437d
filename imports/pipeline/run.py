"""One client import across its chunks (_CustomerRun): outcomes, the chunk's cleaning, and its bookkeeping.

Matching and writing the clients are customers' (customers_upsert_many): the import hands it the chunk's cleaned
rows and keeps, from its answer, the row outcomes and one ImportChange per client, identity and consent event it
created or changed (what a rollback needs).
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType

from core.bulk import insert_rows
from customers.matching import ClientKey
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services.upsert import ClientItem, UpsertBatch, customers_upsert_many
from imports.kinds.customers import (
    CONSENT_WORDING,
    CleanCustomer,
    CustomerImportContext,
    RowError,
    clean_customer_row,
)
from imports.models import ImportBatch, ImportChange
from imports.pipeline.batches import RowOutcomes
from imports.pipeline.constants import IDENTITY_FIELDS
from imports.pipeline.state import _json_value
from imports.reader import SourceRow, SourceTable

OUTCOME_OF = {"created": "new", "updated": "updated", "unchanged": "unchanged"}


class _CustomerRun(RowOutcomes):
    """The state of one client import across its chunks (counts, preview, errors, recent rows for duplicates)."""

    def __init__(self, *, batch: ImportBatch, table: SourceTable, context: CustomerImportContext) -> None:
        super().__init__(table=table)
        self.batch = batch
        self.context = context
        self._identity_field = next((name for name in IDENTITY_FIELDS if name in table.header_for), None)
        self._content_types = {
            model: ContentType.objects.get_for_model(model) for model in (Customer, CustomerIdentity, ConsentEvent)
        }

    # --- One chunk --------------------------------------------------------------------------------------------

    def prepare(self, rows: list[SourceRow]) -> list[CleanCustomer | tuple[str | None, str]]:
        """Clean each row, a refusal as (field, message): pure, so a worker process may run it (parallel.py)."""
        prepared: list[CleanCustomer | tuple[str | None, str]] = []
        for row in rows:
            try:
                prepared.append(clean_customer_row(row, self.context))
            except RowError as error:
                prepared.append((error.field, error.message))
        return prepared

    def process(self, rows: list[SourceRow], prepared: list[Any] | None = None) -> None:
        cleaned: list[tuple[SourceRow, CleanCustomer]] = []
        for row, clean in zip(rows, prepared if prepared is not None else self.prepare(rows), strict=True):
            if not self.admit(row):
                continue
            if isinstance(clean, tuple):
                self.invalid(row, *clean)
            else:
                cleaned.append((row, clean))
        if not cleaned:
            return
        # A file's rows are the house's own records (staff load them): verified, and they may update.
        items = [
            ClientItem(
                source=clean.source,
                key=ClientKey(public_id=clean.public_id, identities=clean.identities, email=clean.email,
                              phone=clean.phone),
                values=clean.values,
                preferences=clean.preferences,
                consents=clean.consents,
            )
            for _row, clean in cleaned
        ]
        written = customers_upsert_many(items, history_context=self.history_context,
                                        recorded_by_id=self.batch.created_by_id, wording_version=CONSENT_WORDING)
        for (row, _clean), result in zip(cleaned, written.results, strict=True):
            if result.status == "refused":
                field_name = self._identity_field if result.field_name == "identities" else result.field_name
                self.invalid(row, field_name, result.reason)
            elif result.status == "updated":
                self.outcome("updated", row, fields=result.changed_fields)
            else:
                self.outcome(OUTCOME_OF[result.status], row)
        self._keep_changes(written)

    def _keep_changes(self, written: UpsertBatch) -> None:
        """One ImportChange per client changed (with the former values) or created, and per identity and consent
        event added to a client that existed (a created client's own go with it on rollback)."""
        types = {model: content_type.pk for model, content_type in self._content_types.items()}
        changes = [
            (types[Customer], pk, ImportChange.Action.UPDATED,
             {name: _json_value(value) for name, value in before.items()})
            for pk, before in written.updated.items()
        ]
        changes += [(types[Customer], pk, ImportChange.Action.CREATED, None) for pk in written.created]
        changes += [(types[CustomerIdentity], pk, ImportChange.Action.CREATED, None)
                    for pk in written.identities_added]
        changes += [(types[ConsentEvent], pk, ImportChange.Action.CREATED, None)
                    for pk in written.consent_events_added]
        insert_rows(
            ImportChange._meta.db_table,
            {"batch_id": "bigint", "content_type_id": "integer", "object_id": "bigint", "action": "text",
             "before": "jsonb"},
            [(self.batch.pk, content_type, pk, str(action), before) for content_type, pk, action, before in changes],
        )
