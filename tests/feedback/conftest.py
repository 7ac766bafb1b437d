"""Fixtures of the feedback tests: the follow-up tests' real workers with moved clocks (tests/journeys/conftest.py),
with feedback's tasks routed to their queue too, so that what the code queues itself (the scheduling of invitations
after a committed touchpoint) reaches them."""

from __future__ import annotations

import pytest

from tests.journeys.conftest import clocked_workers, paris_boutique, sms_provider  # noqa: F401 (fixtures)


@pytest.fixture
def survey_workers(clocked_workers):  # noqa: F811 (the fixture imported above)
    from config.celery import app

    app.conf.task_routes = {**app.conf.task_routes, "feedback.tasks.*": {"queue": clocked_workers.queue}}
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)  # the router keeps the routes it was built with
    return clocked_workers
