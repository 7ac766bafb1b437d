"""Reaching the client from a task and from the client page (issue 17): tap-to-call, WhatsApp with messaging
consent only, and the task's outcome with a note, kept on the timeline."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from core.errors import ApplicationError
from customers.services import consent_record
from desk.services import client_erase
from journeys.services import followup_record_outcome
from journeys.services.followups import OUTCOME_NOTE_MAX
from tests.desk.helpers import logged_in, messages_of
from tests.desk.test_advisor_tasks import NOW, outcome_url, task_for
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def task(advisor, call_template):
    followup = task_for(advisor, call_template, due_at=NOW - dt.timedelta(hours=1))
    customer = followup.customer
    customer.phone = "+33612345678"
    customer.save(update_fields=["phone"])
    return followup


def grant_messaging(customer, *, granted: bool = True) -> None:
    consent_record(customer=customer, channel="messaging", purpose="service", is_granted=granted,
                   occurred_at=NOW - dt.timedelta(minutes=5 if granted else 1), source="atelier")


# --- the outcome's note -----------------------------------------------------------------------------------------


def test_an_outcome_keeps_the_advisor_s_note(task, advisor):
    done = followup_record_outcome(followup=task, outcome="reached", actor=advisor,
                                   note="  Will come on Saturday for the fitting.  ")

    task.refresh_from_db()
    assert (done.outcome_note, task.outcome_note, task.status) == (
        "Will come on Saturday for the fitting.", "Will come on Saturday for the fitting.", "done")


def test_a_note_over_the_cap_or_with_a_control_character_is_refused_and_the_task_stays_open(task, advisor):
    for note, message in [
        ("x" * (OUTCOME_NOTE_MAX + 1),
         f"Keep the note to {OUTCOME_NOTE_MAX} characters ({OUTCOME_NOTE_MAX + 1} given)."),
        ("Called\x00back", "The note holds a control character; type it again."),
    ]:
        with pytest.raises(ApplicationError) as refused:
            followup_record_outcome(followup=task, outcome="reached", actor=advisor, note=note)
        assert refused.value.message == message
        task.refresh_from_db()
        assert (task.status, task.outcome, task.outcome_note) == ("scheduled", "", "")


def test_the_day_s_outcome_form_sends_the_note_and_the_timeline_shows_it(task, advisor):
    browser = logged_in(advisor)
    day = browser.get(reverse("admin:index")).content.decode()
    start = day.index(f'action="{outcome_url(task)}"')
    assert 'name="note"' in day[start:day.index("</form>", start)]

    response = browser.post(outcome_url(task), {"outcome": "reached", "note": "Loved the green Aurore."})

    assert messages_of(response) == [f"{task.customer}: reached. The task is done."]
    task.refresh_from_db()
    assert task.outcome_note == "Loved the green Aurore."
    page = browser.get(reverse("admin:customers_customer_change", args=[task.customer_id])).content.decode()
    timeline = page[page.index('id="timeline"'):page.index('class="c360-side"')]
    assert "Loved the green Aurore." in timeline
    assert "Reached" in timeline


def test_a_note_too_long_from_the_day_is_refused_with_the_reason(task, advisor):
    response = logged_in(advisor).post(outcome_url(task), {"outcome": "sale", "note": "x" * 1001})

    assert messages_of(response) == ["Keep the note to 1000 characters (1001 given)."]
    task.refresh_from_db()
    assert task.status == "scheduled"


def test_erasing_the_client_clears_the_outcome_s_note(task, advisor, paris):
    from customers.models import Advisor

    followup_record_outcome(followup=task, outcome="reached", actor=advisor, note="Her husband's birthday is in May.")
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")

    client_erase(customer=task.customer, actor=manager)

    task.refresh_from_db()
    assert (task.outcome, task.outcome_note) == ("reached", "")


# --- call and chat ----------------------------------------------------------------------------------------------


def test_the_client_page_and_the_task_offer_a_call_and_whatsapp_only_with_messaging_consent(task, advisor):
    browser = logged_in(advisor)
    client_page = reverse("admin:customers_customer_change", args=[task.customer_id])

    # Without messaging consent: the call, not WhatsApp
    for address in (client_page, reverse("admin:index")):
        content = browser.get(address).content.decode()
        assert 'href="tel:+33612345678"' in content
        assert "wa.me" not in content

    # With it: both
    grant_messaging(task.customer)
    for address in (client_page, reverse("admin:index")):
        content = browser.get(address).content.decode()
        assert 'href="tel:+33612345678" data-reach="call"' in content
        assert 'href="https://wa.me/33612345678" data-reach="whatsapp"' in content

    # Withdrawn: gone again
    grant_messaging(task.customer, granted=False)
    assert "wa.me" not in browser.get(client_page).content.decode()


def test_a_client_without_a_phone_has_no_call_link(task, advisor):
    customer = task.customer
    customer.phone = ""
    customer.save(update_fields=["phone"])
    grant_messaging(customer)

    content = logged_in(advisor).get(reverse("admin:index")).content.decode()

    assert 'data-reach="call"' not in content
    assert "wa.me" not in content
