"""Writes to clients. Every entry point (admin, API, imports, webhooks, syncs, tasks) calls these."""

from customers.services.consent import consent_record
from customers.services.identity import UpsertResult, customer_upsert
from customers.services.merge import customer_merge, register_merge_handler

__all__ = ["UpsertResult", "consent_record", "customer_merge", "customer_upsert", "register_merge_handler"]
