"""Reads of clients that several entry points share."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from customers.filters import CustomerFilterSet
from customers.models import Advisor, ContactConflict, Customer, CustomerExternalState, CustomerIdentity, Segment

logger = logging.getLogger(__name__)


@dataclass
class PendingPush:
    """A client whose pushed fields differ from what the outside system last held, with their id there."""

    customer: Customer
    external_id: str
    state_values: dict[str, Any]
    # The changes the system refused last time (customer_external_refused), if any.
    refused_values: dict[str, Any] | None = None


def customers_pending_push(*, system: str, after_pk: int = 0, limit: int = 200) -> list[PendingPush]:
    """Clients known to `system` (they have an identity there) whose preferences, notes, tier, advisor or consent
    differ from what the system last held, by id after `after_pk`; the same test as
    customers.services.external.customer_push_changes, in SQL so that unchanged clients are never loaded."""
    customers, identities = Customer._meta.db_table, CustomerIdentity._meta.db_table
    states, advisors = CustomerExternalState._meta.db_table, Advisor._meta.db_table
    users = get_user_model()._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.id, (SELECT MIN(i.external_id) FROM {identities} i WHERE i.customer_id = c.id AND i.system = %s)
            FROM {customers} c
            LEFT JOIN {states} s ON s.customer_id = c.id AND s.system = %s
            LEFT JOIN {advisors} a ON a.id = c.advisor_id
            LEFT JOIN {users} u ON u.id = a.user_id
            WHERE c.id > %s AND NOT c.is_anonymized
              AND EXISTS (SELECT 1 FROM {identities} i WHERE i.customer_id = c.id AND i.system = %s)
              AND (c.preferences IS DISTINCT FROM COALESCE(s."values" -> 'preferences', '{{}}'::jsonb)
                   OR c.advisor_notes IS DISTINCT FROM COALESCE(s."values" ->> 'advisor_notes', '')
                   OR c.value_tier IS DISTINCT FROM COALESCE(s."values" ->> 'value_tier', 'prospect')
                   OR COALESCE(u.email, '') IS DISTINCT FROM COALESCE(s."values" ->> 'advisor', '')
                   OR NOT (COALESCE(s."values" -> 'consent', '{{}}'::jsonb) @> c.consent))
            ORDER BY c.id
            LIMIT %s
            """,  # noqa: S608 (table names from the models)
            [system, system, after_pk, system, limit],
        )
        rows = cursor.fetchall()
    by_pk = Customer.objects.select_related("advisor__user").in_bulk([pk for pk, _ in rows])
    states = {
        customer_id: (values, refused)
        for customer_id, values, refused in CustomerExternalState.objects.filter(
            customer_id__in=by_pk, system=system).values_list("customer_id", "values", "refused_values")
    }
    return [
        PendingPush(customer=by_pk[pk], external_id=external_id, state_values=states.get(pk, ({}, None))[0],
                    refused_values=states.get(pk, ({}, None))[1])
        for pk, external_id in rows
        if pk in by_pk
    ]


def client_open_contact_conflicts(*, customer: Customer) -> int:
    """How many values other systems proposed for the client wait for staff (ContactConflict, open)."""
    return ContactConflict.objects.filter(customer=customer, status=ContactConflict.Status.OPEN).count()


# Whom a segment is evaluated for: the house, across every boutique (an API-key-like principal with no boutique
# limit, so CustomerFilterSet's boutique and advisor choices are all there, and no staff member's "my clients").
_HOUSE_REQUEST = SimpleNamespace(user=SimpleNamespace(
    is_authenticated=True, is_active=True, is_superuser=False, is_api_key=True, boutique_ids=None, pk=None,
))


def segment_customers(*, segment: Segment) -> QuerySet[Customer]:
    """The clients a segment holds now: its definition run through CustomerFilterSet, the one home of client
    filters, across every boutique. A definition that does not filter cleanly (an unknown filter, a value the
    filter refuses) holds nobody, so that a broken segment never widens to every client; it is logged."""
    definition = segment.definition if isinstance(segment.definition, dict) else None
    filterset = CustomerFilterSet(
        data=definition or {}, queryset=Customer.objects.all(), request=_HOUSE_REQUEST,
    )
    unknown = set(definition or {}) - set(filterset.filters) if definition is not None else {"definition"}
    if unknown or not filterset.is_valid():
        logger.warning("customers.segment_invalid segment_id=%s", segment.pk)
        return Customer.objects.none()
    return filterset.qs
