"""The advisor closes a task of their day in one click (reached, no answer, declined, sale) or snoozes it."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from customers.models import Advisor, SourceSystem
from customers.services import customer_upsert
from desk.day import advisor_day
from journeys.models import FollowUp
from journeys.services import followup_schedule
from tests.desk.helpers import logged_in, messages_of
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# Wednesday 11 March 2026, 10:00 in Paris.
NOW = dt.datetime(2026, 3, 11, 10, tzinfo=PARIS)
_numbers = itertools.count(1)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def task_for(user, template, *, due_at: dt.datetime) -> FollowUp:
    number = next(_numbers)
    client = customer_upsert(source=SourceSystem.POS, external_id=f"T-{number}", first_name="Inès",
                             last_name=f"Number{number}", home_boutique=user.advisor.boutique,
                             advisor=user.advisor).customer
    followup, _ = followup_schedule(customer=client, template=template, key=f"task:{number}", trigger_at=due_at)
    return followup


def outcome_url(task: FollowUp) -> str:
    return reverse("admin:desk_task_outcome", args=[task.pk])


def snooze_url(task: FollowUp) -> str:
    return reverse("admin:desk_task_snooze", args=[task.pk])


def test_the_day_shows_each_task_with_its_script_and_one_click_outcomes(frozen, advisor, call_template):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))

    page = logged_in(advisor).get(reverse("admin:index")).content.decode()

    assert "Ask Inès how the fitting went." in page
    assert f'action="{outcome_url(task)}"' in page
    assert f'action="{snooze_url(task)}"' in page
    assert 'name="until" value="2026-03-12T10:00"' in page
    assert page.count('name="outcome"') == 4


def test_one_click_records_the_outcome_and_the_task_leaves_the_list(frozen, advisor, call_template):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))

    response = logged_in(advisor).post(outcome_url(task), {"outcome": "sale"})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index") + "#day-tasks"
    task.refresh_from_db()
    assert (task.status, task.outcome, task.sent_at) == ("done", "sale", NOW)
    assert messages_of(response) == [f"{task.customer}: sale. The task is done."]
    assert advisor_day(user=advisor, now=NOW).tasks == []


def test_an_overdue_task_stays_on_the_list_until_it_is_done(advisor, call_template):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(days=3))

    for days_later in (0, 1, 7):
        (listed,) = advisor_day(user=advisor, now=NOW + dt.timedelta(days=days_later)).tasks
        assert (listed.pk, listed.is_overdue) == (task.pk, True)

    with time_machine.travel(NOW + dt.timedelta(days=7), tick=False):
        logged_in(advisor).post(outcome_url(task), {"outcome": "no_answer"})
    assert advisor_day(user=advisor, now=NOW + dt.timedelta(days=7)).tasks == []


def test_a_snoozed_task_leaves_the_list_and_comes_back_when_due(frozen, advisor, call_template):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))

    response = logged_in(advisor).post(snooze_url(task), {"until": "2026-03-13T09:30"})

    task.refresh_from_db()
    assert (task.status, task.due_at) == ("scheduled", dt.datetime(2026, 3, 13, 9, 30, tzinfo=PARIS))
    assert messages_of(response) == [f"{task.customer}: snoozed until 13 Mar 09:30."]
    assert advisor_day(user=advisor, now=NOW).tasks == []
    assert [listed.pk for listed in advisor_day(user=advisor, now=dt.datetime(2026, 3, 13, 8, tzinfo=PARIS)).tasks] \
        == [task.pk]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"until": "2026-03-10T09:30"}, "Snooze the task to a moment in the future."),
        ({"until": "next week"}, "Give the date and time to snooze the task to."),
    ],
)
def test_a_snooze_to_the_past_or_to_no_date_is_refused(frozen, advisor, call_template, form, message):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))

    response = logged_in(advisor).post(snooze_url(task), form)

    assert messages_of(response) == [message]
    task.refresh_from_db()
    assert (task.status, task.due_at) == ("scheduled", NOW - dt.timedelta(hours=1))


def test_an_unknown_outcome_or_a_task_already_done_is_refused_with_the_reason(frozen, advisor, call_template):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))

    refused = logged_in(advisor).post(outcome_url(task), {"outcome": "maybe"})
    task.refresh_from_db()
    assert (messages_of(refused), task.status) == (
        ["Unknown outcome 'maybe'; use reached, no_answer, declined, sale."], "scheduled"
    )

    logged_in(advisor).post(outcome_url(task), {"outcome": "reached"})
    again = logged_in(advisor).post(outcome_url(task), {"outcome": "sale"})
    task.refresh_from_db()
    assert (messages_of(again), task.outcome) == (["This task is already done."], "reached")


def test_another_advisors_task_is_not_found_and_stays_as_it_was(frozen, advisor, colleague, call_template):
    theirs = task_for(colleague, call_template, due_at=NOW - dt.timedelta(hours=1))
    browser = logged_in(advisor)

    assert browser.post(outcome_url(theirs), {"outcome": "sale"}).status_code == 404
    assert browser.post(snooze_url(theirs), {"until": "2026-03-13T09:30"}).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.status, theirs.outcome, theirs.due_at) == ("scheduled", "", NOW - dt.timedelta(hours=1))


def test_a_boutique_manager_may_close_any_task_of_the_boutique(frozen, advisor, paris, call_template):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))

    logged_in(manager).post(outcome_url(task), {"outcome": "declined"})

    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "declined")


def test_the_actions_are_posts_with_a_csrf_token(frozen, advisor, call_template):
    task = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(advisor, backend="django.contrib.auth.backends.ModelBackend")

    assert logged_in(advisor).get(outcome_url(task)).status_code == 405
    assert strict.post(outcome_url(task), {"outcome": "sale"}).status_code == 403
    task.refresh_from_db()
    assert task.status == "scheduled"
