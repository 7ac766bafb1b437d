"""Behind a TLS proxy the login lockout counts per client address, read from the proxy's X-Forwarded-For, not per
the proxy's own address; without a proxy a client cannot choose its address with that header."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from customers.models import Advisor
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "a-good-staff-password-2026"  # make_staff's
PROXY = "10.0.0.2"


@pytest.fixture
def staff():
    return make_staff(Advisor.Role.ADVISOR, BoutiqueFactory(code="PAR"), username="camille")


def log_in(client, password: str, *, forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": PROXY}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(reverse("admin:login"), {"username": "camille", "password": password, "next": "/admin/"},
                       **headers)


def test_behind_the_proxy_an_attacker_locks_only_their_own_address_out(client, staff, settings):
    settings.BEHIND_TLS_PROXY = True
    # Given five failed logins for camille from an attacker, who also forges an address of their own in front
    attempts = [log_in(client, f"wrong-{n}", forwarded_for="198.51.100.9, 203.0.113.66").status_code
                for n in range(5)]

    # When camille logs in from her own address, through the same proxy
    response = log_in(client, GOOD_PASSWORD, forwarded_for="192.0.2.10")

    # Then she is logged in: only the attacker's address (the one the proxy appended) is locked
    assert attempts == [200, 200, 200, 200, 429]
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert list(AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")) == [
        ("camille", "203.0.113.66", 5)
    ]
    assert log_in(client, GOOD_PASSWORD, forwarded_for="203.0.113.66").status_code == 429


def test_behind_two_proxies_the_client_is_two_entries_from_the_right(client, staff, settings):
    settings.BEHIND_TLS_PROXY, settings.TRUSTED_PROXY_COUNT = True, 2

    log_in(client, "wrong", forwarded_for="6.6.6.6, 203.0.113.66, 10.0.0.1")

    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.66"]


def test_without_a_proxy_the_forwarded_header_is_ignored(client, staff, settings):
    settings.BEHIND_TLS_PROXY = False
    # Given an attacker locked out at their address
    for n in range(5):
        log_in(client, f"wrong-{n}", forwarded_for=f"203.0.113.{n}")

    # When they try again claiming yet another address
    response = log_in(client, GOOD_PASSWORD, forwarded_for="192.0.2.10")

    # Then the lock holds: the header names no address when no proxy wrote it
    assert response.status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [(PROXY, 6)]


def test_a_forwarded_value_that_is_no_address_counts_as_the_proxys(client, staff, settings):
    settings.BEHIND_TLS_PROXY = True

    log_in(client, "wrong", forwarded_for="<script>")

    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [PROXY]
