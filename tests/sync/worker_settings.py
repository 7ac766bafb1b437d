"""Settings of the sync tests' worker processes: the local settings, with Redis giving an unacknowledged message
back after 4 s (production: an hour) and looking for such messages every second, so that a test can kill a worker
mid-page and see its message delivered again to the next one within seconds."""

from config.settings.local import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 4,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
