"""Merging duplicate client records into one, with everything that pointed at the duplicate."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.forms.models import model_to_dict

from core.errors import ApplicationError
from customers.models import ConsentEvent, Customer, CustomerIdentity, CustomerMerge
from customers.normalizers import PREFERENCE_KEYS
from customers.scoping import require_reach
from customers.services.consent import current_consent

logger = logging.getLogger(__name__)

# Each app that owns rows pointing at clients moves them in a handler registered from its AppConfig.ready():
# handler(surviving=..., merged=...) -> {"orders": 3, ...}. Every such foreign key is PROTECT, so a row nobody
# moved makes the merge fail and roll back instead of losing data.
MergeHandler = Callable[..., dict[str, int]]
_merge_handlers: list[MergeHandler] = []

_FILLED_FROM_MERGED = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "language",
    "city",
    "country",
    "home_boutique_id",
    "advisor_id",
    "persona_id",
)


@dataclass(frozen=True)
class MergedValue:
    """One profile field of the surviving record after a merge, and whether it came from the duplicate."""

    field: str
    value: Any
    filled_from_merged: bool


def customer_merge_preview(*, surviving: Customer, merged: Customer) -> list[MergedValue]:
    """What customer_merge will leave in each profile field of `surviving`: its own value when it has one, else the
    duplicate's (the same fields and rule as the merge). Foreign keys come as objects: select them related."""
    preview = []
    for name in _FILLED_FROM_MERGED:
        filled = not getattr(surviving, name) and bool(getattr(merged, name))
        field = name.removesuffix("_id")
        value = getattr(merged if filled else surviving, field)
        preview.append(MergedValue(field=field, value=value, filled_from_merged=filled))
    return preview


def register_merge_handler(handler: MergeHandler) -> None:
    if handler not in _merge_handlers:
        _merge_handlers.append(handler)


def _json_safe(data: dict) -> dict:
    return json.loads(DjangoJSONEncoder().encode(data))


@transaction.atomic
def customer_merge(
    *, surviving: Customer, merged: Customer, actor: AbstractBaseUser | None = None, reason: str = ""
) -> CustomerMerge:
    """Fold `merged` into `surviving`: move identities, consent, interactions, orders, enrollments, follow-ups,
    survey answers and earlier merges; fill the survivor's blanks from the duplicate; delete the duplicate and
    keep an audit entry with its snapshot. One transaction: it all happens or nothing does."""
    if surviving.pk == merged.pk:
        raise ApplicationError("A client cannot be merged into themselves.")
    require_reach(actor, [surviving.home_boutique_id, merged.home_boutique_id])
    first, second = sorted([surviving.pk, merged.pk])  # lock in a fixed order so two merges cannot deadlock
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")}
    if len(locked) != 2:
        raise ApplicationError("One of the two clients no longer exists.")
    surviving, merged = locked[surviving.pk], locked[merged.pk]

    snapshot = _json_safe(
        {**model_to_dict(merged), "public_id": merged.public_id,
         "identities": list(merged.identities.values("system", "external_id"))}
    )
    filled = [name for name in _FILLED_FROM_MERGED if not getattr(surviving, name) and getattr(merged, name)]
    taken = {name: getattr(merged, name) for name in filled}
    if "email" in taken:
        # The email must leave the duplicate before the survivor can take it (one client per email).
        merged.email = ""
        merged.save(update_fields=["email"])

    moved: dict[str, int] = {
        "identities": CustomerIdentity.objects.filter(customer=merged).update(customer=surviving),
        "merges": CustomerMerge.objects.filter(surviving_customer=merged).update(surviving_customer=surviving),
    }
    # A consent event at the same moment on both records is the same event; keep the survivor's.
    same_on_survivor = ConsentEvent.objects.filter(
        customer=surviving,
        channel=OuterRef("channel"),
        purpose=OuterRef("purpose"),
        occurred_at=OuterRef("occurred_at"),
    )
    ConsentEvent.objects.filter(customer=merged).filter(Exists(same_on_survivor)).delete()
    moved["consent_events"] = ConsentEvent.objects.filter(customer=merged).update(customer=surviving)
    for handler in _merge_handlers:
        moved.update(handler(surviving=surviving, merged=merged))

    for name, value in taken.items():
        setattr(surviving, name, value)
    for key in PREFERENCE_KEYS:
        combined = list(dict.fromkeys([*surviving.preferences.get(key, []), *merged.preferences.get(key, [])]))
        if combined:
            surviving.preferences[key] = combined
    if merged.advisor_notes and merged.advisor_notes not in surviving.advisor_notes:
        surviving.advisor_notes = "\n\n".join(filter(None, [surviving.advisor_notes, merged.advisor_notes]))
    merged.delete()
    surviving.consent = current_consent(surviving)
    surviving.save(
        update_fields=[*(name.removesuffix("_id") for name in filled), "preferences", "advisor_notes", "consent",
                       "updated_at"]
    )
    merged_public_id = merged.public_id
    record = CustomerMerge.objects.create(
        surviving_customer=surviving,
        merged_public_id=merged_public_id,
        merged_snapshot=snapshot,
        moved=moved,
        merged_by=actor,
        reason=reason,
    )
    surviving.refresh_from_db()
    logger.info("customers.merged surviving_id=%s merge_id=%s", surviving.pk, record.pk)
    return record
