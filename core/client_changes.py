"""Which clients' figures just changed, for the app that keeps figures about them (insight's rollups).

The domain writers (an order recorded, a stage move) live in apps below insight and may not import it (STYLE.md:
apps depend one way), so they call `clients_changed(customer_ids)` in one line and insight registers a listener in
its AppConfig.ready(). Listeners run once the transaction commits (never for rolled-back work), with every client
the transaction named in one call, so a batch of 1,000 orders queues one refresh, not 1,000.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from django.db import transaction

logger = logging.getLogger(__name__)

Listener = Callable[[list[int]], None]
_listeners: list[Listener] = []
# The clients named and not yet delivered, per thread (a thread has its own database connection).
_pending = threading.local()


def register_clients_changed_listener(listener: Listener) -> None:
    """Call `listener(customer_ids)` after each commit that changed what is known about these clients. Listeners
    should queue a task and return: they run in the request or task that wrote."""
    if listener not in _listeners:
        _listeners.append(listener)


def clients_changed(customer_ids: Iterable[int] | None) -> None:
    """Tell the listeners, once the current transaction commits, that these clients' orders or stages changed.
    None (every client) is left to the nightly reconciliation."""
    if customer_ids is None or not _listeners:
        return
    ids = [pk for pk in customer_ids if pk is not None]
    if not ids:
        return
    pending = getattr(_pending, "ids", None)
    if pending is None:
        pending = _pending.ids = set()
    pending.update(ids)
    # One callback per call, all sharing the set: the first after the commit delivers it all, the others find it
    # empty. A rolled-back transaction's ids may still be delivered with a later commit's: harmless, since a
    # listener recomputes those clients from what is committed.
    transaction.on_commit(_deliver)


def _deliver() -> None:
    ids = sorted(getattr(_pending, "ids", None) or ())
    _pending.ids = set()
    if not ids:
        return
    for listener in list(_listeners):
        try:
            listener(ids)
        except Exception:
            # The writes are committed; a listener that fails (broker down) must not fail the caller. The nightly
            # reconciliation catches up.
            logger.exception("core.clients_changed_listener_failed listener=%r count=%s", listener, len(ids))
