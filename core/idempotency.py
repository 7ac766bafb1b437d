"""`Idempotency-Key` for POSTs: a retried request gets the first response back and changes nothing.

Decorate a DRF handler with `@idempotent` (or mix `IdempotentCreateMixin` into a viewset). The key is stored with
the caller, the method, the path, a hash of the body and the response, unique per (caller, key):

- no header: the request runs as usual;
- a new key: the request runs in one transaction with the row that claims the key; a 2xx response is stored;
  an error (4xx, or an exception) rolls the claim back, so the caller can fix the request and retry the same key;
- a key already answered: its stored response is replayed, with the header `Idempotent-Replayed: true`;
- the same key with another body, method or path: 422, nothing runs;
- two identical requests at once: the second one's insert waits on the unique index until the first commits,
  then replays its response (or runs, if the first failed).

Keys are kept IDEMPOTENCY_KEEP_DAYS days (core.tasks purges them nightly).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.models import IdempotentRequest

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID) up to 255 characters. Retrying with the same key returns the first "
    "response and changes nothing; the same key with a different body is refused with 422.",
)


class _Unstored(Exception):
    """Carries a non-2xx response out of the transaction, so the claim on the key is rolled back."""

    def __init__(self, response: Response) -> None:
        self.response = response


def request_principal(request: Request) -> str:
    """Who is calling, as stored with their keys: an API key's id, or the staff user's."""
    principal_id = getattr(request.user, "principal_id", None)
    return principal_id or f"user:{request.user.pk}"


def _error(message: str, status_code: int, **extra: Any) -> Response:
    return Response({"message": message, "extra": extra}, status=status_code)


def _replay(record: IdempotentRequest, *, method: str, path: str, request_hash: str) -> Response:
    if (record.method, record.path, record.request_hash) != (method, path, request_hash):
        return _error(
            "This Idempotency-Key was already used for a different request; send a new key with a new request.",
            status.HTTP_422_UNPROCESSABLE_ENTITY,
            idempotency_key=record.key,
        )
    return Response(record.response_body, status=record.response_status, headers={REPLAYED_HEADER: "true"})


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Make a view handler (`post`, `create`, an action) honour the Idempotency-Key header."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            return _error(
                f"The {IDEMPOTENCY_HEADER} header must hold 1 to {MAX_KEY_LENGTH} characters.",
                status.HTTP_400_BAD_REQUEST,
                fields={IDEMPOTENCY_HEADER: ["Give 1 to 255 characters."]},
            )
        principal = request_principal(request)
        method, path = request.method, request.path[:400]
        # Read before the view parses it: DRF then reads the same bytes from memory.
        request_hash = hashlib.sha256(request.body).hexdigest()
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        record = IdempotentRequest.objects.create(
                            key=key, principal=principal, method=method, path=path, request_hash=request_hash,
                            response_status=0,
                        )
                except IntegrityError:
                    # Already answered (or answered by a concurrent request we just waited for).
                    existing = IdempotentRequest.objects.get(principal=principal, key=key)
                    return _replay(existing, method=method, path=path, request_hash=request_hash)
                response = handler(view, request, *args, **kwargs)
                if not status.is_success(response.status_code):
                    raise _Unstored(response)
                record.response_status = response.status_code
                record.response_body = response.data
                record.save(update_fields=["response_status", "response_body"])
                return response
        except _Unstored as unstored:
            return unstored.response

    return extend_schema(parameters=[IDEMPOTENCY_PARAMETER])(wrapper)


class IdempotentCreateMixin:
    """For a generic view or viewset: its POST (`create`) honours the Idempotency-Key header."""

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().create(request, *args, **kwargs)


def idempotent_requests_purge(*, older_than: dt.timedelta) -> int:
    """Forget the keys answered more than `older_than` ago (a retry after that runs again). Returns how many."""
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
