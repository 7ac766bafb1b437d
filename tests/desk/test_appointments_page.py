"""The client page's appointments: the upcoming ones, the "Book an appointment" form, its refusals on the fields,
and an attended appointment on the timeline."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Advisor
from customers.services import customer_upsert
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Appointment, Interaction
from touchpoints.services.appointments import appointment_book, appointment_record_outcome

pytestmark = pytest.mark.django_db

TOKYO_TIME = zoneinfo.ZoneInfo("Asia/Tokyo")


@pytest.fixture
def tokyo():
    return BoutiqueFactory(code="TYO", name="Tokyo Ginza", timezone="Asia/Tokyo")


@pytest.fixture
def advisor(tokyo):
    return make_staff(Advisor.Role.ADVISOR, tokyo, username="haruka")


@pytest.fixture
def yui(tokyo, advisor):
    return customer_upsert(source="crm", external_id="C-1", email="yui@example.com", first_name="Yui",
                           last_name="Sato", home_boutique=tokyo, advisor=advisor.advisor).customer


def page_url(customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def book_url(customer) -> str:
    return reverse("admin:customers_customer_book_appointment", args=[customer.pk])


def next_week() -> dt.date:
    return timezone.now().astimezone(TOKYO_TIME).date() + dt.timedelta(days=7)


def appointments_section(content: str) -> str:
    return content[content.index('id="appointments"'):content.index('id="journeys"')]


def field_errors(section: str, name: str) -> list[str]:
    match = re.search(rf'data-field="{name}">(.*?)</div>', section, re.S)
    assert match, name
    return re.findall(r"<li>(.*?)</li>", match.group(1))


def test_an_advisor_books_from_the_client_page_on_the_boutique_clock(client, advisor, yui):
    client.force_login(advisor)
    day = next_week()

    response = client.post(book_url(yui), {"date": day.isoformat(), "time": "10:00", "duration": "45",
                                           "purpose": "Fitting of the autumn coat", "advisor": advisor.advisor.pk})

    assert (response.status_code, response["Location"]) == (302, f"{page_url(yui)}#appointments")
    appointment = Appointment.objects.get()
    # 10:00 in Tokyo is 01:00 UTC
    assert appointment.starts_at == dt.datetime.combine(day, dt.time(1), tzinfo=dt.UTC)
    assert (appointment.duration, appointment.advisor, appointment.created_by) == (
        dt.timedelta(minutes=45), advisor.advisor, advisor)
    section = appointments_section(client.get(page_url(yui)).content.decode())
    assert f'data-appointment="{appointment.pk}"' in section
    assert f'{day:%a} {day.day} {day:%b %Y}, 10:00</time>' in section
    assert "· Fitting of the autumn coat · " in section
    # Booked, not yet a touchpoint
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize(
    ("posted", "field", "message"),
    [
        ({"date": "2020-01-06"}, "time", "That time has passed: book a time from now on."),
        ({"date": "2099-13-40"}, "date", "Give the date as YYYY-MM-DD."),
        ({"time": ""}, "time", "Choose the time."),
        ({"purpose": "  "}, "purpose", "Say what the appointment is for."),
        ({"duration": "an hour"}, "duration", "Give the length in minutes."),
        ({"duration": "800"}, "duration", "An appointment lasts from 5 minutes to 12 hours."),
    ],
)
def test_a_refused_booking_shows_the_error_on_its_field_and_keeps_the_entries(client, advisor, yui, posted, field,
                                                                               message):
    client.force_login(advisor)
    values = {"date": next_week().isoformat(), "time": "10:00", "duration": "60", "purpose": "Engraving pickup",
              "advisor": advisor.advisor.pk} | posted

    response = client.post(book_url(yui), values)

    assert response.status_code == 302
    assert Appointment.objects.count() == 0
    section = appointments_section(client.get(page_url(yui)).content.decode())
    assert field_errors(section, field) == [message]
    if field != "purpose":
        assert 'value="Engraving pickup"' in section
    # Shown once: the next page is the blank form again
    assert "errorlist" not in appointments_section(client.get(page_url(yui)).content.decode())


def test_another_boutique_s_advisor_cannot_book_the_client(client, yui):
    paris_advisor = make_staff(Advisor.Role.ADVISOR, BoutiqueFactory(code="PAR", timezone="Europe/Paris"),
                               username="camille")
    client.force_login(paris_advisor)

    response = client.post(book_url(yui), {"date": next_week().isoformat(), "time": "10:00", "duration": "60",
                                           "purpose": "Fitting", "advisor": paris_advisor.advisor.pk})

    assert response.status_code == 404
    assert Appointment.objects.count() == 0


def test_an_attended_appointment_leaves_upcoming_and_is_on_the_timeline(client, advisor, yui):
    booked_on = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    appointment = appointment_book(customer=yui, day=dt.date(2026, 3, 2), time=dt.time(10), purpose="Fitting",
                                   actor=advisor, now=booked_on)
    appointment_record_outcome(appointment=appointment, status="attended", actor=advisor)
    client.force_login(advisor)

    content = client.get(page_url(yui)).content.decode()

    assert f'data-appointment="{appointment.pk}"' not in appointments_section(content)
    timeline = content[content.index('id="timeline"'):content.index('id="quick-actions"')]
    assert "Appointment · Fitting" in timeline
    assert "2 Mar 2026, 10:00" in timeline
