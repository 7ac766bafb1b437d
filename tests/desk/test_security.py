"""Staff accounts: strong passwords, logins locked after repeated failures, sessions that end."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from customers.models import Advisor
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-good-staff-password-2026"  # make_staff's


@pytest.fixture
def staff():
    user = make_staff(Advisor.Role.ADVISOR, BoutiqueFactory(code="PAR"), username="camille.durand")
    # Fixed names: the similarity validator compares the password with them (the factory numbers its last names).
    user.first_name, user.last_name, user.email = "Camille", "Durand", "camille.durand@atelier.example"
    user.save(update_fields=["first_name", "last_name", "email"])
    return user


def log_in(client, username: str, password: str):
    return client.post(reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"})


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


# --- passwords -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        ("kelly28", "This password is too short. It must contain at least 10 characters."),
        ("password1234", "This password is too common."),
        ("12345678901234", "This password is entirely numeric."),
        ("camille.durand", "The password is too similar to the username."),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(staff, password, refusal):
    # When a weak password is checked for a staff member
    with pytest.raises(ValidationError) as error:
        validate_password(password, staff)

    # Then the validators refuse it and say why
    assert error.value.messages == [refusal]


def test_a_strong_password_passes_the_validators(staff):
    assert validate_password("Saturday fittings at the Faubourg, 2026", staff) is None


def test_a_staff_member_cannot_change_their_password_to_a_weak_one(client, staff):
    # Given a staff member logged in
    password_hash = staff.password
    client.force_login(staff)

    # When they change their password to a common one on the admin's page
    response = client.post(
        reverse("admin:password_change"),
        {"old_password": GOOD_PASSWORD, "new_password1": "password1234", "new_password2": "password1234"},
    )

    # Then the page refuses it and their password is the old one
    assert response.status_code == 200
    assert response.context["form"].errors == {"new_password2": ["This password is too common."]}
    staff.refresh_from_db()
    assert staff.password == password_hash


# --- logins --------------------------------------------------------------------------------------------------------


def test_after_five_failed_logins_even_the_right_password_is_refused(client, staff):
    # Given five failed logins for one username from one address
    failures = [log_in(client, "camille.durand", f"wrong-guess-{attempt}").status_code for attempt in range(5)]

    # When the right password is given
    response = log_in(client, "camille.durand", GOOD_PASSWORD)

    # Then the login is refused as locked, and nobody is logged in
    assert settings.AXES_FAILURE_LIMIT == 5
    assert failures == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert logged_in_user_id(client) is None
    # (The refused sixth attempt counts as a failure too: a locked login only lengthens its lock.)
    assert list(AccessAttempt.objects.values_list("username", "failures_since_start")) == [("camille.durand", 6)]


def test_four_failed_logins_do_not_lock_and_another_staff_member_is_not_locked_out(client, staff):
    colleague = make_staff(Advisor.Role.ADVISOR, staff.advisor.boutique, username="louise")
    # Given four failed logins for one staff member, then five for another from the same address
    for attempt in range(4):
        log_in(client, "camille.durand", f"wrong-guess-{attempt}")
    for attempt in range(5):
        log_in(client, "someone.else", f"wrong-guess-{attempt}")

    # When each gives the right password
    first = log_in(client, "camille.durand", GOOD_PASSWORD)
    first_user = logged_in_user_id(client)
    client.logout()
    second = log_in(client, "louise", GOOD_PASSWORD)

    # Then both are logged in: the lock is per username and address, and only after the fifth failure
    assert (first.status_code, first["Location"], first_user) == (302, "/admin/", str(staff.pk))
    assert (second.status_code, logged_in_user_id(client)) == (302, str(colleague.pk))


# --- sessions ------------------------------------------------------------------------------------------------------


def test_the_session_cookie_ends_with_the_browser_and_the_session_with_its_age(client, staff):
    # When a staff member logs in
    before = timezone.now()
    response = log_in(client, "camille.durand", GOOD_PASSWORD)

    # Then the cookie has no lifetime of its own (the browser drops it on closing) and the server-side session
    # ends SESSION_COOKIE_AGE (8 hours by default) after the request
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert (response.status_code, cookie["max-age"], cookie["expires"]) == (302, "", "")
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    expires = Session.objects.get(session_key=cookie.value).expire_date
    assert dt.timedelta(0) <= expires - (before + dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)) < dt.timedelta(
        minutes=1
    )


def test_a_session_left_idle_for_longer_than_its_age_is_refused(client, staff):
    # Given a staff member logged in, back a minute before their session's age runs out
    age = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    log_in(client, "camille.durand", GOOD_PASSWORD)
    almost = timezone.now() + age - dt.timedelta(minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=almost):
        still_in = client.get(reverse("admin:index"))

    # When they come back after more than the age without a request
    with mock.patch("django.utils.timezone.now", return_value=almost + age + dt.timedelta(minutes=1)):
        too_late = client.get(reverse("admin:index"))

    # Then the first visit was still in (and renewed the session); the late one is sent to the login page
    assert still_in.status_code == 200
    assert (too_late.status_code, too_late["Location"]) == (302, f"{reverse('admin:login')}?next=/admin/")
