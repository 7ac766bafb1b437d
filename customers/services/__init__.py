"""Writes to clients. Every entry point (admin, API, imports, webhooks, syncs, tasks) calls these."""

from customers.services.consent import consent_record, consents_record_many
from customers.services.external import (
    ConsentChange,
    ExternalApplyResult,
    customer_external_apply,
    customer_external_pushed,
    customer_push_changes,
)
from customers.services.identity import UpsertResult, customer_clean, customer_find, customer_upsert
from customers.services.merge import customer_merge, register_merge_handler
from customers.services.metrics import customers_metrics_record_many
from customers.services.profile import customer_update
from customers.services.restore import customers_restore
from customers.services.staff import (
    advisor_save,
    client_book_hand_over,
    customers_assign_advisor,
    staff_groups_sync,
)
from customers.services.upsert import ClientItem, UpsertBatch, UpsertOutcome, customers_upsert_many

__all__ = [
    "ClientItem",
    "ConsentChange",
    "ExternalApplyResult",
    "UpsertBatch",
    "UpsertOutcome",
    "UpsertResult",
    "advisor_save",
    "client_book_hand_over",
    "consent_record",
    "consents_record_many",
    "customer_clean",
    "customer_external_apply",
    "customer_external_pushed",
    "customer_find",
    "customer_merge",
    "customer_push_changes",
    "customer_update",
    "customer_upsert",
    "customers_assign_advisor",
    "customers_metrics_record_many",
    "customers_restore",
    "customers_upsert_many",
    "register_merge_handler",
    "staff_groups_sync",
]
