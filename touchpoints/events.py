"""What must follow when touchpoints are recorded, for the apps above touchpoints (journeys: rules and attribution).

Touchpoints may not import the apps above it (STYLE.md: apps depend one way), so those apps register a listener
here in their AppConfig.ready(), in one visible place. The recording services call `interactions_recorded` with
the interactions they created; the listeners run once the transaction commits (never for rolled-back work), with
every interaction the transaction recorded in one call, so a bulk write of 1,000 items queues one task, not 1,000.
"""

from __future__ import annotations

import logging
import threading
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
    """Call `listener(interaction_ids)` after each commit that recorded interactions, with the ids of the rows that
    were committed. Listeners should queue a task and return: they run in the request or task that recorded."""
    if listener not in _listeners:
        _listeners.append(listener)


def interactions_recorded(interaction_ids: Iterable[int]) -> None:
    """Tell the listeners, once the current transaction commits, that these interactions were created."""
    ids = list(interaction_ids)
    if not ids or not _listeners or _paused.get():
        return
    pending = getattr(_recorded, "ids", None)
    if pending is None:
        pending = _recorded.ids = []
    pending.extend(ids)
    # A callback per call, all delivering the same list: the first to run after the commit hands the listeners
    # every id the transaction recorded and the others find the list empty, so a transaction is one call to each
    # listener however many services recorded in it. A rolled-back savepoint takes only its own callbacks away, and
    # a rolled-back transaction all of them; the ids they recorded stay in the list and are dropped at delivery,
    # where they name no row. (Public API only: no look into Django's list of callbacks.)
    transaction.on_commit(_deliver)


# The ids recorded and not yet delivered, per thread (a thread has its own database connection).
_recorded = threading.local()


def _deliver() -> None:
    from touchpoints.models import Interaction

    recorded = list(dict.fromkeys(getattr(_recorded, "ids", None) or []))
    _recorded.ids = []
    if not recorded:
        return
    # Committed rows only: what a rolled-back savepoint or transaction recorded is gone (ids are never reused).
    committed = set(Interaction.objects.filter(pk__in=recorded).values_list("pk", flat=True))
    ids = [pk for pk in recorded if pk in committed]
    if not ids:
        return
    for listener in list(_listeners):
        try:
            listener(ids)
        except Exception:
            # The interactions are committed; a listener that fails (broker down) must not fail the caller.
            logger.exception("touchpoints.interactions_listener_failed listener=%r count=%s", listener, len(ids))
