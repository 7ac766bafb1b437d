"""What every topic's handler shares, the ecommerce ones (webhooks.services) and the survey tools' (webhooks.surveys):
what a handler answers, and the check that keeps an older version of a record from undoing a newer one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from webhooks.models import WebhookDelivery

Outcome = WebhookDelivery.Outcome


@dataclass(frozen=True)
class Handled:
    """What a topic's handler did, and which version of which record it applied (for out-of-order deliveries)."""

    outcome: str
    result: str
    subject: str = ""
    subject_version: dt.datetime | None = None


Handler = Callable[[dict[str, Any]], Handled]


def newer_version_applied(*, provider: str, subject: str, version: dt.datetime | None) -> dt.datetime | None:
    """The platform's updated_at of a newer version of `subject` already applied, if any.

    Platforms do not promise order: an order's update may arrive after a later one. Holding a transaction lock on
    the subject makes concurrent versions of one record take turns, so the newer one always has the last word.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"webhooks:{provider}:{subject}"])
    if version is None:
        return None
    return (
        WebhookDelivery.objects.filter(
            provider=provider, subject=subject, outcome=Outcome.PROCESSED, subject_version__gt=version
        )
        .order_by("-subject_version")
        .values_list("subject_version", flat=True)
        .first()
    )


def stale(subject: str, version: dt.datetime | None, newer: dt.datetime) -> Handled:
    return Handled(
        Outcome.IGNORED, f"{subject}: a newer version ({newer.isoformat()}) was already applied.", subject, version
    )
