"""Which database a read should use."""

from django.conf import settings


def analytics_database() -> str:
    """The alias heavy reads (analytics, exports) use: the read replica when DATABASE_REPLICA_URL is set."""
    return "replica" if "replica" in settings.DATABASES else "default"
