"""Writes to clients. Every entry point (admin, API, imports, webhooks, syncs, tasks) calls these."""

from customers.services.consent import consent_record
from customers.services.identity import UpsertResult, customer_upsert
from customers.services.merge import customer_merge, register_merge_handler
from customers.services.profile import customer_update
from customers.services.staff import (
    advisor_save,
    client_book_hand_over,
    customers_assign_advisor,
    staff_groups_sync,
)

__all__ = [
    "UpsertResult",
    "advisor_save",
    "client_book_hand_over",
    "consent_record",
    "customer_merge",
    "customer_update",
    "customer_upsert",
    "customers_assign_advisor",
    "register_merge_handler",
    "staff_groups_sync",
]
