"""Reads of feedback: survey responses on the client timeline."""

from __future__ import annotations

from feedback.models import Response
from touchpoints.selectors import TimelineSource


def _load_responses(pks: list[int]) -> dict[int, Response]:
    queryset = Response.objects.filter(pk__in=pks).select_related("survey")
    return {response.pk: response for response in queryset}


def response_timeline_source() -> TimelineSource:
    """A client's survey answers, at the moment they answered (index response_customer_idx)."""
    return TimelineSource(
        kind="response",
        rows=lambda customer: Response.objects.filter(customer=customer),
        time_field="responded_at",
        load=_load_responses,
    )
