"""Fixtures of the import tests."""

from __future__ import annotations

import pytest
from django.db import connections


@pytest.fixture(scope="session", autouse=True)
def _close_the_progress_connection(django_db_setup, django_db_blocker):
    """Close the connection imports report progress through (settings.IMPORTS_PROGRESS_DATABASE) before the test
    database is dropped: tests that ran an import in a task leave it open, and PostgreSQL refuses to drop a
    database someone is connected to."""
    yield
    with django_db_blocker.unblock():
        connections["imports_progress"].close()
