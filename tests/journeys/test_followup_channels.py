"""How follow-ups leave the house: email over real SMTP to a local server, the console SMS of the demo, and the
SMS settings checked at start."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from journeys.channels.sms import ConsoleSmsBackend
from journeys.services import followup_schedule
from journeys.services.dispatch import followups_dispatch_due
from tests.journeys import fake_smtp
from tests.journeys.helpers import make_client, make_template

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRIGGER = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)


@pytest.fixture
def smtp_server(settings):
    fake = fake_smtp.FakeSmtpServer()
    server = fake_smtp.start(fake)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", fake.port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def scheduled_email(paris_boutique):
    followup, _ = followup_schedule(customer=make_client(paris_boutique), template=make_template("Thank you", "email"),
                                    key="k", trigger_at=TRIGGER)
    return followup


@pytest.mark.django_db
def test_an_email_goes_over_smtp_with_its_message_id(smtp_server, scheduled_email):
    assert followups_dispatch_due(now=DUE) == {"sent": 1}

    scheduled_email.refresh_from_db()
    (message,) = smtp_server.messages
    assert f"Message-ID: {scheduled_email.provider_message_id}".encode() in message
    assert scheduled_email.status == "sent"


@pytest.mark.django_db
def test_a_server_that_drops_the_line_after_the_message_leaves_it_for_review_not_resent(smtp_server, scheduled_email):
    smtp_server.mode = "drop_after_data"

    assert followups_dispatch_due(now=DUE) == {"failed": 1}
    assert followups_dispatch_due(now=DUE + dt.timedelta(hours=1)) == {}

    scheduled_email.refresh_from_db()
    assert scheduled_email.status == "failed"
    assert scheduled_email.status_reason.startswith(
        "Needs review: The mail server stopped answering mid-send (SMTPServerDisconnected). Not resent"
    )
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [
        ("defer", "scheduled", "Attempt 1 failed (The mail server deferred it (451)); next attempt at "
                               "2026-05-06T08:01:00+00:00."),
        ("refuse_recipient", "failed", "Failed: The mail server refused it: SMTPRecipientsRefused"),
    ],
)
def test_a_deferring_server_is_retried_and_a_refused_address_fails(smtp_server, scheduled_email, mode, status,
                                                                   reason):
    smtp_server.mode = mode

    followups_dispatch_due(now=DUE)

    scheduled_email.refresh_from_db()
    assert (scheduled_email.status, scheduled_email.status_reason, smtp_server.messages) == (status, reason, [])


@pytest.mark.django_db
def test_a_mail_server_that_does_not_answer_is_retried(settings, scheduled_email):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port

    assert followups_dispatch_due(now=DUE) == {"retried": 1}
    scheduled_email.refresh_from_db()
    assert scheduled_email.status_reason.startswith(
        "Attempt 1 failed (Mail server unreachable: ConnectionRefusedError); next attempt at"
    )


def test_the_console_sms_of_the_demo_prints_the_message_with_a_stable_id(capsys):
    first = ConsoleSmsBackend().send(to="+33612345678", body="Merci !", idempotency_key="followup-1-abc")
    again = ConsoleSmsBackend().send(to="+33612345678", body="Merci !", idempotency_key="followup-1-abc")

    assert first == again == "console-" + hashlib.sha256(b"followup-1-abc").hexdigest()[:24]
    assert capsys.readouterr().out.count(f"SMS {first} to +33612345678:\nMerci !\n") == 2


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        ({"SMS_BACKEND": "twilio", "SMS_ACCOUNT_SID": "AC1", "SMS_AUTH_TOKEN": "", "SMS_FROM": ""},
         "ImproperlyConfigured: SMS_BACKEND is twilio but these are not set: SMS_AUTH_TOKEN, SMS_FROM."),
        ({"SMS_BACKEND": "carrier-pigeon"}, "ImproperlyConfigured: SMS_BACKEND is 'carrier-pigeon'; use console or "
                                            "twilio."),
        ({"FOLLOWUP_QUIET_HOURS_END": "9h"},
         "ImproperlyConfigured: FOLLOWUP_QUIET_HOURS_END is '9h'; give a time as HH:MM, e.g. 21:00."),
    ],
)
def test_misconfigured_follow_up_settings_stop_the_start_naming_the_variable(variables, refusal):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", **variables}

    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)

    assert result.returncode != 0
    assert refusal in result.stderr


def test_beat_runs_the_dispatcher_every_minute_by_the_name_of_a_registered_task(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["dispatch-due-followups-every-minute"]

    app.loader.import_default_modules()
    assert (entry["task"], entry["schedule"]) == ("journeys.tasks.followups_dispatch_task", 60)
    assert entry["task"] in app.tasks
