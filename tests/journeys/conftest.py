"""Fixtures of the follow-up tests: a fake SMS provider over real HTTP, a Paris boutique."""

from __future__ import annotations

import pytest

from tests.factories import BoutiqueFactory
from tests.journeys import fake_sms


@pytest.fixture
def sms_provider(settings):
    """The fake provider, with the settings pointing the twilio adapter at it."""
    provider = fake_sms.FakeSmsProvider()
    server = fake_sms.start(provider)
    settings.SMS_BACKEND = "twilio"
    settings.SMS_API_URL = provider.url
    settings.SMS_ACCOUNT_SID = fake_sms.ACCOUNT_SID
    settings.SMS_AUTH_TOKEN = fake_sms.AUTH_TOKEN
    settings.SMS_FROM = "+33100000000"
    settings.SMS_TIMEOUT_SECONDS = 5
    yield provider
    provider.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def paris_boutique():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", timezone="Europe/Paris")
