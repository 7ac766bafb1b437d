"""Taking a client import back: its clients, identities and consent events removed, the fields it changed restored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services.consent import consent_refresh_many
from imports.models import ImportBatch, ImportChange


def _restored(name: str, value: Any) -> Any:
    if name == "birth_date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def rollback_customer_import(batch: ImportBatch) -> None:
    """Remove the clients, identities and consent events the batch created, put back the fields it changed, and
    recompute the consent of the clients it touched. Refused (ApplicationError) when something recorded since
    depends on a client it created. Runs inside import_rollback's transaction and history context."""
    types = {model: ContentType.objects.get_for_model(model) for model in (Customer, CustomerIdentity, ConsentEvent)}

    def created(model: type) -> Any:
        return batch.changes.filter(content_type=types[model], action=ImportChange.Action.CREATED).values("object_id")

    touched = set(ConsentEvent.objects.filter(pk__in=created(ConsentEvent)).values_list("customer_id", flat=True))
    ConsentEvent.objects.filter(pk__in=created(ConsentEvent)).delete()
    CustomerIdentity.objects.filter(pk__in=created(CustomerIdentity)).delete()
    # Latest change first: a client changed by two chunks gets the older values last.
    updates = batch.changes.filter(content_type=types[Customer], action=ImportChange.Action.UPDATED).order_by("-pk")
    try:
        for change in updates.iterator(chunk_size=2_000):
            values = {name: _restored(name, value) for name, value in (change.before or {}).items()}
            if values and Customer.objects.filter(pk=change.object_id).update(**values, updated_at=timezone.now()):
                touched.add(change.object_id)
    except IntegrityError:
        raise ApplicationError(
            "A client's former email address is now used by another client, so the import cannot be rolled "
            "back; merge or correct the clients first."
        ) from None
    created_clients = Customer.objects.filter(pk__in=created(Customer))
    try:
        created_clients.delete()
    except (ProtectedError, RestrictedError) as error:
        raise_blocked(error)
    consent_refresh_many(customer_ids=sorted(touched))


def raise_blocked(error: ProtectedError | RestrictedError) -> None:
    """Say which records recorded since an import keep it from being rolled back."""
    blocking = sorted({str(type(obj)._meta.verbose_name_plural) for obj in list(error.args[1])[:50]})
    raise ApplicationError(
        f"Records added since this import depend on records it created ({', '.join(blocking)}); "
        "the import cannot be rolled back.",
        extra={"blocking": blocking},
    ) from None
