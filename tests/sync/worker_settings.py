"""Settings of the sync tests' worker processes: the local settings, with Redis giving an unacknowledged message
back after 4 s (production: an hour) and looking for such messages every second, so that a test can kill a worker
mid-page and see its message delivered again to the next one within seconds."""

import os

from config.settings.local import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A test of recovery without the broker's redelivery sets production's hour (tests/sync/workers.py).
    "visibility_timeout": int(os.environ.get("TEST_VISIBILITY_TIMEOUT", "4")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
