"""Appointments: booked on the boutique's clock, refused when they cannot be kept, and only an attended one reaches
the client's timeline."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import ApplicationError
from customers.models import Advisor
from customers.services import customer_upsert
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Appointment, Interaction
from touchpoints.services.appointments import appointment_book, appointment_cancel, appointment_record_outcome

pytestmark = pytest.mark.django_db

# The booking clock: the appointments below lie after it and before today, so they can also be attended.
BOOKED_ON = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def tokyo():
    return BoutiqueFactory(code="TYO", name="Tokyo Ginza", timezone="Asia/Tokyo")


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", timezone="Europe/Paris")


@pytest.fixture
def advisor(tokyo):
    return make_staff(Advisor.Role.ADVISOR, tokyo, username="haruka")


@pytest.fixture
def client_record(tokyo):
    return customer_upsert(source="crm", external_id="C-1", email="yui@example.com", home_boutique=tokyo).customer


def book(client_record, actor, **values):
    values = {"day": DAY, "time": dt.time(10), "purpose": "Fitting of the autumn coat", "now": BOOKED_ON} | values
    return appointment_book(customer=client_record, actor=actor, **values)


def test_tokyo_at_ten_is_stored_as_one_in_the_morning_utc_with_the_advisor_and_boutique(client_record, advisor,
                                                                                          tokyo):
    appointment = book(client_record, advisor)
    appointment.refresh_from_db()
    assert appointment.starts_at == dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)
    assert (appointment.advisor, appointment.boutique, appointment.status, appointment.created_by) == (
        advisor.advisor, tokyo, Appointment.Status.BOOKED, advisor)
    assert appointment.duration == dt.timedelta(hours=1)
    assert appointment.ends_at == dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
    # A booking is not a touchpoint: nothing on the timeline, the client's last visit unchanged.
    assert Interaction.objects.count() == 0


def test_a_manager_books_for_an_advisor_of_the_boutique(client_record, advisor, tokyo):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, tokyo, username="kenji")
    appointment = book(client_record, manager, advisor=advisor.advisor)
    assert (appointment.advisor, appointment.created_by) == (advisor.advisor, manager)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"now": dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)}, "time",
         "That time has passed: book a time from now on."),
        ({"day": dt.date(2037, 1, 1)}, "time", None),
        ({"purpose": "   "}, "purpose", "Say what the appointment is for."),
        ({"purpose": "x" * 201}, "purpose", "Keep the purpose under 200 characters."),
        ({"duration": dt.timedelta(0)}, "duration", "An appointment lasts from 5 minutes to 12 hours."),
        ({"duration": dt.timedelta(hours=13)}, "duration", "An appointment lasts from 5 minutes to 12 hours."),
        ({"day": "2026-03-02"}, "date", "'2026-03-02' is not a date."),
        ({"time": "10:00"}, "time", "'10:00' is not a time of day on the boutique's clock."),
    ],
)
def test_bad_bookings_are_refused_on_the_field_and_nothing_is_written(client_record, advisor, values, field, message):
    with pytest.raises(ApplicationError) as refused:
        book(client_record, advisor, **values)
    assert list(refused.value.fields) == [field]
    if message:
        assert refused.value.fields[field] == [message]
    assert Appointment.objects.count() == 0


def test_a_time_the_clock_skips_is_refused(paris):
    advisor = make_staff(Advisor.Role.ADVISOR, paris, username="camille")
    client_record = customer_upsert(source="crm", external_id="C-2", email="c@example.com",
                                    home_boutique=paris).customer
    with pytest.raises(ApplicationError) as refused:
        book(client_record, advisor, day=dt.date(2026, 3, 29), time=dt.time(2, 30))
    assert refused.value.fields == {"time": ["02:30 does not exist on 2026-03-29 in Europe/Paris."]}
    assert Appointment.objects.count() == 0


def test_a_client_out_of_reach_is_refused(client_record, paris):
    stranger = make_staff(Advisor.Role.ADVISOR, paris, username="camille")
    with pytest.raises(ApplicationError) as refused:
        book(client_record, stranger)
    assert refused.value.fields == {"non_field_errors": ["This client is out of your reach."]}
    assert Appointment.objects.count() == 0


def test_an_advisor_of_another_boutique_is_refused(client_record, paris, tokyo):
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="hq")
    elsewhere = make_staff(Advisor.Role.ADVISOR, paris, username="camille")
    with pytest.raises(ApplicationError) as refused:
        book(client_record, head_office, advisor=elsewhere.advisor)
    assert refused.value.fields == {"advisor": ["The advisor does not work at Tokyo Ginza."]}
    assert Appointment.objects.count() == 0


def test_attended_puts_the_appointment_on_the_timeline_when_it_began_once(client_record, advisor, tokyo):
    appointment = book(client_record, advisor)
    attended = appointment_record_outcome(appointment=appointment, status="attended", actor=advisor)
    interaction = Interaction.objects.get()
    assert (interaction.touchpoint_type.code, interaction.occurred_at, interaction.customer, interaction.boutique,
            interaction.advisor, interaction.external_id, interaction.metadata["purpose"]) == (
        "appointment", dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC), client_record, tokyo, advisor.advisor,
        f"appointment:{appointment.pk}", "Fitting of the autumn coat")
    assert (attended.status, attended.interaction) == (Appointment.Status.ATTENDED, interaction)
    with pytest.raises(ApplicationError) as refused:
        appointment_record_outcome(appointment=appointment, status="attended", actor=advisor)
    assert refused.value.fields == {"status": ["The appointment is already attended."]}
    assert Interaction.objects.count() == 1


def test_an_appointment_not_yet_begun_cannot_be_attended(client_record, advisor):
    appointment = book(client_record, advisor)
    with pytest.raises(ApplicationError) as refused:
        appointment_record_outcome(appointment=appointment, status="attended", actor=advisor, now=BOOKED_ON)
    assert refused.value.fields == {"status": ["The appointment has not begun yet."]}
    assert Interaction.objects.count() == 0
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_no_show_and_cancel_write_no_interaction(client_record, advisor):
    missed = appointment_record_outcome(appointment=book(client_record, advisor), status="no_show", actor=advisor)
    cancelled = appointment_cancel(appointment=book(client_record, advisor, time=dt.time(15)), actor=advisor)
    assert (missed.status, cancelled.status) == (Appointment.Status.NO_SHOW, Appointment.Status.CANCELLED)
    assert Interaction.objects.count() == 0
    with pytest.raises(ApplicationError):
        appointment_record_outcome(appointment=cancelled, status="attended", actor=advisor)
    with pytest.raises(ApplicationError) as refused:
        appointment_record_outcome(appointment=book(client_record, advisor), status="booked", actor=advisor)
    assert refused.value.fields == {"status": ["The outcome is attended or no-show."]}
    assert Interaction.objects.count() == 0
