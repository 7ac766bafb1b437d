"""The client page's "Book an appointment" form: the fields an advisor fills in on the boutique's clock, and the
booking's refusals kept on their fields across the redirect back to the page (touchpoints.services.appointments
holds every rule; this only carries its answer)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest

from core.errors import ApplicationError
from customers.models import Advisor, Customer
from touchpoints.models import Appointment
from touchpoints.services.appointments import appointment_book

# The session key under which a refused booking waits for the page it returns to.
_PENDING = "desk.appointment_form.{}"


class AppointmentForm(forms.Form):
    date = forms.DateField(error_messages={"required": "Choose the day.", "invalid": "Give the date as YYYY-MM-DD."},
                           widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(error_messages={"required": "Choose the time.", "invalid": "Give the time as HH:MM."},
                           widget=forms.TimeInput(attrs={"type": "time"}))
    duration = forms.IntegerField(
        initial=60, min_value=1, max_value=24 * 60, label="Minutes",
        error_messages={"required": "Say how long it lasts.", "invalid": "Give the length in minutes.",
                        "min_value": "Give the length in minutes.", "max_value": "Give the length in minutes."},
    )
    purpose = forms.CharField(strip=True, error_messages={"required": "Say what the appointment is for."},
                              widget=forms.TextInput(attrs={"maxlength": 200, "placeholder": "Fitting, collection…"}))
    advisor = forms.ModelChoiceField(
        queryset=Advisor.objects.none(),
        error_messages={"required": "Choose the advisor.", "invalid_choice": "Choose an advisor of the boutique."},
    )

    def __init__(self, *args: Any, advisors: Any, initial_advisor: Advisor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["advisor"].queryset = advisors
        if initial_advisor is not None:
            self.fields["advisor"].initial = initial_advisor.pk


def book_from_form(request: HttpRequest, customer: Customer, advisors: Any) -> Appointment | None:
    """Book from the posted form; on a refusal keep the entries and the errors (each on its field) for the page."""
    form = AppointmentForm(request.POST, advisors=advisors)
    errors: dict[str, list[str]] = {}
    appointment = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            appointment = appointment_book(
                customer=customer, day=data["date"], time=data["time"], purpose=data["purpose"],
                duration=dt.timedelta(minutes=data["duration"]), advisor=data["advisor"], actor=request.user,
            )
        except ApplicationError as error:
            errors = error.fields or {"non_field_errors": [error.message]}
    else:
        errors = {name: list(messages) for name, messages in form.errors.items()}
    if appointment is None:
        request.session[_PENDING.format(customer.pk)] = {"data": request.POST.dict(), "errors": errors}
    return appointment


def pending_form(request: HttpRequest, customer: Customer, advisors: Any,
                 initial_advisor: Advisor | None) -> AppointmentForm:
    """The form the page shows: blank, or the refused booking with its errors on the fields they concern."""
    pending = request.session.pop(_PENDING.format(customer.pk), None)
    if pending is None:
        return AppointmentForm(advisors=advisors, initial_advisor=initial_advisor)
    form = AppointmentForm(pending["data"], advisors=advisors)
    form.is_valid()
    for name, messages in pending["errors"].items():
        field = name if name in form.fields else None
        for message in messages:
            if message not in form.errors.get(field or "__all__", []):
                form.add_error(field, message)
    return form
