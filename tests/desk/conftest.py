"""Fixtures the desk's task tests share (test_advisor_tasks, test_reach): a Paris boutique, an advisor and a
colleague there, and a call template with one variant. A module's own fixture of the same name wins."""

from __future__ import annotations

import pytest

from customers.models import Advisor
from journeys.models import FollowUpTemplate, FollowUpVariant
from tests.factories import BoutiqueFactory, make_staff


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", timezone="Europe/Paris")


@pytest.fixture
def advisor(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="camille")


@pytest.fixture
def colleague(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="louise")


@pytest.fixture
def call_template():
    template = FollowUpTemplate.objects.create(name="Call after purchase", channel="advisor_task", delay_hours=0)
    FollowUpVariant.objects.create(template=template, label="A", subject="Call {{ client.first_name }}",
                                   body="Ask {{ client.first_name }} how the fitting went.")
    return template
