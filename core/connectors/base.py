"""The connector interface: fetch a page of an outside system's records since a cursor, and record each one.

A connector knows its system's API and how its records map onto Atelier's services; the sync engine (the sync
app) knows pages, cursors, transactions, locks, retries and the run log. Splitting it so keeps every reliability
rule in one place, shared by every POS and CRM.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from core.errors import ApplicationError

if TYPE_CHECKING:
    from core.connectors.http import HttpClient

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What recording one record did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass
class Page:
    """One page of a stream: its records, the cursor to store once they are written, and whether it was the last.

    `context` carries what the connector fetched alongside the records (the clients a page of orders names), so
    that every HTTP call happens before the page's transaction opens.
    """

    records: list[Any]
    next_cursor: dict[str, Any]
    is_last: bool
    context: dict[str, Any] = field(default_factory=dict)


class ConnectorError(Exception):
    """A page could not be fetched or read."""


class TransientError(ConnectorError):
    """Worth another try: the connection failed, timed out, or the server answered 5xx or 429."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """Asking again will not help: the server refused the request (4xx) or the connector is misconfigured."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MalformedPage(ConnectorError):  # noqa: N818 (a page, not an error class name)
    """The server answered, but not with a page this connector can read (not JSON, missing or mistyped fields)."""

    def __init__(self, message: str, *, body: str = "") -> None:
        super().__init__(message)
        self.body = body[:2000]


class RecordRejected(Exception):  # noqa: N818 (a record is rejected: the name says what happened)
    """One record cannot be recorded (missing field, wrong type, refused by a service): the sync goes on."""

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


# What a record's mapping or a service may raise for one bad record: the record is refused, the page goes on.
RECORD_ERRORS = (RecordRejected, ApplicationError, ValidationError, DataError, IntegrityError, ValueError, TypeError,
                 KeyError, AttributeError, ArithmeticError)

_registry: dict[str, type[Connector]] = {}


class Connector:
    """A POS or CRM: subclass it in `<app>/connectors/<name>.py` with a unique `key`; it registers itself.

    Instances are made by the sync engine for one run, with the configuration from the admin: the endpoint, the
    secret (read from the environment variable the configuration names), free options and, for a per-boutique
    connector, the boutique. `fetch` runs outside any transaction (HTTP only: it must not write); `record` runs
    inside the page's transaction, in a savepoint per record, and writes through the owning app's services.
    """

    key: ClassVar[str] = ""
    label: ClassVar[str] = ""
    system: ClassVar[str] = ""  # customers.models.SourceSystem value: the records' source
    streams: ClassVar[tuple[str, ...]] = ()
    is_per_boutique: ClassVar[bool] = True
    # Options an admin may set on the configuration, with their defaults (page size, time-outs, retries ...).
    default_options: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, *, endpoint: str, secret: str, options: dict[str, Any], boutique: Any | None, http: HttpClient
    ) -> None:
        self.endpoint = endpoint
        self.secret = secret
        self.options = {**self.default_options, **(options or {})}
        self.boutique = boutique
        self.http = http

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.key:
            return
        registered = _registry.get(cls.key)
        if registered is not None and registered.__qualname__ != cls.__qualname__:
            raise TypeError(f"Two connectors use the key {cls.key!r}: {registered!r} and {cls!r}.")
        _registry[cls.key] = cls

    @classmethod
    def auth_headers(cls, secret: str) -> dict[str, str]:
        """The headers that carry the secret; a bearer token unless the system says otherwise."""
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def fetch(self, stream: str, cursor: dict[str, Any]) -> Page:
        """The page of `stream` after `cursor` (an empty dict: from the start). HTTP only, no database writes."""
        raise NotImplementedError

    def record_key(self, stream: str, record: Any) -> str:
        """The record's id in its system, for the run log (blank when the record does not even say)."""
        if isinstance(record, dict):
            value = record.get("id")
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)[:160]
        return ""

    def record(self, stream: str, record: Any, page: Page) -> Outcome:
        """Write one record through the services; raise RecordRejected (or ApplicationError) to refuse it."""
        raise NotImplementedError

    def record_page(self, stream: str, page: Page) -> list[Outcome | Exception]:
        """Write a page's records inside the page's transaction: one outcome, or the exception that refused the
        record, per record, in order. By default each record through `record` in a savepoint of its own; a
        connector whose records map onto a batch service (orders_record_many) overrides it, to write the page
        with a handful of statements instead of a few per record."""
        outcomes: list[Outcome | Exception] = []
        for record in page.records:
            try:
                with transaction.atomic():
                    outcomes.append(Outcome(self.record(stream, record, page)))
            except RECORD_ERRORS as error:
                outcomes.append(error)
        return outcomes

    def rejected(self, stream: str, record: Any, error: Exception) -> None:
        """Called in the page's transaction after a record was refused (its savepoint rolled back): where a
        connector remembers a refusal (a client the CRM refused is not sent again unchanged). Nothing by default."""


def connector_classes() -> dict[str, type[Connector]]:
    """Every registered connector class by key."""
    return dict(sorted(_registry.items()))


def connector_class(key: str) -> type[Connector]:
    try:
        return _registry[key]
    except KeyError:
        raise PermanentError(f"No connector is registered under {key!r}.") from None


def discover_connectors(app_names: list[str]) -> None:
    """Import every module of each app's `connectors` package, so that the classes in them register."""
    for app_name in app_names:
        try:
            package = importlib.import_module(f"{app_name}.connectors")
        except ModuleNotFoundError as error:
            if error.name != f"{app_name}.connectors":
                raise
            continue
        for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
            importlib.import_module(f"{package.__name__}.{module.name}")


# Answers that say the request itself is refused (the credentials), never one record of it: the run stops there.
NOT_ABOUT_A_RECORD = frozenset({401, 403, 407})


def fetch_isolating_refusals(
    fetch: Callable[[list[str]], dict[str, Any]], ids: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Fetch what a page's records need by id in one call (`fetch(ids)` → results by id). When the system refuses
    the batch (a 4xx), the batch is split in halves until the ids it refuses are found, so that a refusal costs the
    records it is about, not the page: returns (results, {refused id: the answer}).

    Still raises PermanentError when the answer is about the request (401, 403, 407) or when every id is refused
    alone too (a refusal of the endpoint, not of records): then the run stops, and nothing of the page is lost."""
    refused: dict[str, str] = {}
    results = _fetch_halving(fetch, ids, refused)
    if len(ids) > 1 and len(refused) == len(ids):
        raise PermanentError(next(iter(refused.values())))
    return results, refused


def _fetch_halving(fetch: Callable[[list[str]], dict[str, Any]], ids: list[str],
                   refused: dict[str, str]) -> dict[str, Any]:
    if not ids:
        return {}
    try:
        return fetch(ids)
    except PermanentError as error:
        if error.status is None or error.status in NOT_ABOUT_A_RECORD:
            raise
        if len(ids) == 1:
            refused[ids[0]] = str(error)
            return {}
    middle = len(ids) // 2
    return {**_fetch_halving(fetch, ids[:middle], refused), **_fetch_halving(fetch, ids[middle:], refused)}
