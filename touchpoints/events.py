"""What must follow when touchpoints are recorded, for the apps above touchpoints (journeys: rules and attribution).

Touchpoints may not import the apps above it (STYLE.md: apps depend one way), so those apps register a listener
here in their AppConfig.ready(), in one visible place. The recording services call `interactions_recorded` with
the interactions they created; the listeners run once the transaction commits (never for rolled-back work), with
every interaction the transaction recorded in one call, so a bulk write of 1,000 items queues one task, not 1,000.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

logger = logging.getLogger(__name__)

Listener = Callable[[list[int]], None]
_listeners: list[Listener] = []
_paused: ContextVar[bool] = ContextVar("touchpoints_listeners_paused", default=False)


@contextmanager
def listeners_paused() -> Iterator[None]:
    """Record history without telling the listeners: the interactions recorded inside the block (a historical
    backfill by a sync, say) reach no journey rule and schedule no follow-up. Per thread and task, not global."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def register_interactions_listener(listener: Listener) -> None:
    """Call `listener(interaction_ids)` after each commit that recorded interactions. Listeners should queue a task
    and return: they run in the request or task that recorded. An id may name a row a rolled-back savepoint took
    away; listeners read the rows afresh and skip what is gone."""
    if listener not in _listeners:
        _listeners.append(listener)


def interactions_recorded(interaction_ids: Iterable[int]) -> None:
    """Tell the listeners, once the current transaction commits, that these interactions were created."""
    ids = list(interaction_ids)
    if not ids or not _listeners or _paused.get():
        return
    connection = transaction.get_connection()
    pending: _Pending | None = getattr(connection, "_atelier_recorded_interactions", None)
    if pending is None or not pending.is_queued(connection):
        pending = _Pending()
        connection._atelier_recorded_interactions = pending
        transaction.on_commit(pending.flush)
    pending.ids.extend(ids)


class _Pending:
    """The interactions a transaction recorded so far, flushed to the listeners by one on_commit callback."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def is_queued(self, connection) -> bool:
        # A rolled-back transaction drops its on_commit callbacks; a new transaction then needs a new one.
        return connection.in_atomic_block and any(entry[1] == self.flush for entry in connection.run_on_commit)

    def flush(self) -> None:
        ids, self.ids = list(dict.fromkeys(self.ids)), []
        for listener in list(_listeners):
            try:
                listener(ids)
            except Exception:
                # The interactions are committed; a listener that fails (broker down) must not fail the caller.
                logger.exception("touchpoints.interactions_listener_failed listener=%r count=%s", listener, len(ids))
