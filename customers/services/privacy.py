"""Customers' part of erasing a client's personal data (desk.services.client_erase runs every app's part).

What goes: the profile's personal fields, the identities (the ids that let other systems find the person again),
what outside systems last held of the client (CustomerExternalState: the CRM's copy of their name and address),
the snapshots merges kept of duplicates (the same person's old data), and the history rows of the client and of
those duplicates. What stays: the record itself, anonymous (its public id, home boutique, persona, country,
language, value tier and metrics), the merge audit entries without their snapshot, and the consent ledger.

The consent ledger stays because it holds no personal data once the client is anonymous (channel, purpose,
granted or withdrawn, when, from which system, under which wording) and it is the house's proof that past
contacts were consented. Erasure appends a withdrawal for every consent still granted, so the current consent,
derived from the ledger as always, says that nobody may contact this record any more.
"""

from __future__ import annotations

import datetime as dt
import logging

import pghistory
from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.errors import ApplicationError
from customers.models import (
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ContactConflict,
    Customer,
    CustomerExternalState,
    CustomerIdentity,
    CustomerMerge,
    SourceSystem,
)
from customers.services.consent import consent_key, current_consent

logger = logging.getLogger(__name__)

ERASED_NAME = "Erased client"
# The wording version of the withdrawals erasure records: the ledger says why consent ended.
ERASURE_WORDING = "erasure"

# Blanked by erasure. Country, language, home boutique and persona stay: too coarse to single anyone out, and
# what the figures are broken down by. The advisor goes: the client leaves the advisor's book (orders keep the
# advisor who made each sale).
ERASED_FIELDS = {
    "first_name": "",
    "last_name": ERASED_NAME,
    "email": "",
    "phone": "",
    "birth_date": None,
    "city": "",
    "advisor_notes": "",
    "preferences": {},
    "advisor": None,
}


def customer_history_model():
    """The history rows pghistory's triggers write for each change of a client (customers.CustomerHistory)."""
    return apps.get_model("customers", "CustomerHistory")


@transaction.atomic
def customer_personal_data_erase(
    *, customer: Customer, actor: AbstractBaseUser | None, erased_at: dt.datetime
) -> dict[str, int]:
    """Anonymize a client's record, remove what customers holds that names them, and mark who erased it and
    when. Refuses a client already erased. Returns how many rows of each kind were erased."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.is_anonymized:
        raise ApplicationError(
            f"This client's personal data was already erased on {customer.anonymized_at:%Y-%m-%d}; "
            "there is nothing left to erase.",
            extra={"customer": str(customer.public_id)},
        )
    merges = list(CustomerMerge.objects.select_for_update().filter(surviving_customer=customer))
    # A merged duplicate's history still points at its deleted row; its snapshot names that row's id.
    duplicate_ids = [merge.merged_snapshot["id"] for merge in merges if merge.merged_snapshot.get("id")]

    # First, so that the history row the anonymizing save below writes is the only one left.
    history_rows, _ = customer_history_model().objects.filter(pgh_obj_id__in=[customer.pk, *duplicate_ids]).delete()
    identities, _ = CustomerIdentity.objects.filter(customer=customer).delete()
    external_states, _ = CustomerExternalState.objects.filter(customer=customer).delete()
    contact_conflicts, _ = ContactConflict.objects.filter(customer=customer).delete()
    merge_snapshots = CustomerMerge.objects.filter(pk__in=[merge.pk for merge in merges]).update(
        merged_snapshot={}, reason=""
    )
    # What the ledger says, not the stored summary: the ledger is the truth the summary is derived from.
    granted = current_consent(customer)
    withdrawals = ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                customer=customer,
                channel=channel,
                purpose=purpose,
                is_granted=False,
                occurred_at=erased_at,
                source=SourceSystem.ATELIER,
                recorded_by=actor,
                wording_version=ERASURE_WORDING,
            )
            for channel in ConsentChannel.values
            for purpose in ConsentPurpose.values
            if granted.get(consent_key(channel, purpose))
        ]
    )

    for name, value in ERASED_FIELDS.items():
        setattr(customer, name, value)
    customer.consent = current_consent(customer)
    customer.is_anonymized, customer.anonymized_at, customer.anonymized_by = True, erased_at, actor
    with pghistory.context(action="client_erase"):
        customer.save(
            update_fields=[*ERASED_FIELDS, "consent", "is_anonymized", "anonymized_at", "anonymized_by", "updated_at"]
        )
    logger.info("customers.personal_data_erased customer_id=%s", customer.pk)
    return {
        "identities": identities,
        "external_states": external_states,
        "contact_conflicts": contact_conflicts,
        "history_rows": history_rows,
        "merge_snapshots": merge_snapshots,
        "consent_withdrawals": len(withdrawals),
    }
