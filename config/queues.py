"""One queue namespace per installation, so that two Atelier installs sharing a broker never take each other's tasks.

Every queue name is `<CELERY_QUEUE_PREFIX>.<name>`. The prefix defaults to one derived from the installation's
database (name, host and port): a demo, a benchmark and the tests on one machine each use their own database, hence
their own queues. Each task also carries the identity of the database it was sent for (config.celery stamps it), and
a worker refuses a task stamped for another database: two installs given the same prefix by mistake still never run
each other's tasks.

No Django or Celery import here: the settings use these functions.
"""

from __future__ import annotations

import hashlib
import re

# The message header holding the database a task was sent for.
DATABASE_HEADER = "atelier_database"


def database_identity(database: dict) -> str:
    """`name@host:port` of a DATABASES entry: what a task is stamped with and what a worker compares it to."""
    host = database.get("HOST") or "localhost"
    port = database.get("PORT") or "5432"
    return f"{database.get('NAME') or ''}@{host}:{port}"


def queue_prefix(database: dict) -> str:
    """The default queue prefix of the installation on this database: readable name plus a hash of the identity."""
    identity = database_identity(database)
    readable = re.sub(r"[^a-z0-9_-]+", "-", str(database.get("NAME") or "").lower()).strip("-")[:40] or "db"
    return f"atelier-{readable}-{hashlib.sha256(identity.encode()).hexdigest()[:10]}"


def queue_name(prefix: str, name: str) -> str:
    """The broker's name of the installation's queue `name` (`default`, or e.g. SYNC_TASK_QUEUE's `sync`)."""
    return f"{prefix}.{name}"
