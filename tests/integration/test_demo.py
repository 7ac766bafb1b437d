"""The demo as `make demo` runs it: seed a house, print the logins, serve the admin over real HTTP."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from customers.models import Advisor, Boutique, Customer

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _database_url() -> str:
    database = settings.DATABASES["default"]
    host, port = database["HOST"], database["PORT"] or "5432"
    if host.startswith("/"):
        return f"postgres://{database['USER']}@/{database['NAME']}?host={host}&port={port}"
    return f"postgres://{database['USER']}@{host}:{port}/{database['NAME']}"


@pytest.fixture
def demo_server(django_db_serialized_rollback, transactional_db):
    """`manage.py runserver` in its own process, on the test database, as serve_demo starts it."""
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": _database_url()}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"runserver did not start: {server.stdout.read().decode()}") from None
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.slow
def test_the_seeded_demo_serves_the_admin_and_its_printed_login_works(demo_server, settings):
    # The server runs with the demo's settings, so passwords must be hashed the way they verify them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    call_command("seed_demo", customers=30, seed=3, verbosity=0, stdout=StringIO())
    printed = StringIO()
    call_command("demo_login", password="a-demo-password-2026", stdout=printed)

    assert (Customer.objects.count(), Boutique.objects.count()) == (30, 6)
    assert "admin                  password: a-demo-password-2026" in printed.getvalue()
    advisor = Advisor.objects.filter(role="advisor").select_related("user").first()
    assert f"{advisor.user.username:<22} password: a-demo-password-2026" in printed.getvalue()

    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login_page = browser.open(f"{demo_server}/admin/login/").read().decode()
    assert "<title>Log in | Atelier clienteling</title>" in login_page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)

    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "admin",
                                   "password": "a-demo-password-2026", "next": "/admin/"}).encode()
    index = browser.open(urllib.request.Request(f"{demo_server}/admin/login/?next=/admin/", data=form,
                                                headers={"Referer": f"{demo_server}/admin/login/"}))
    assert index.geturl() == f"{demo_server}/admin/"
    client = Customer.objects.order_by("pk").first()
    change_page = browser.open(f"{demo_server}/admin/customers/customer/{client.pk}/change/").read().decode()
    assert client.email in change_page


@pytest.mark.slow
def test_serve_demo_stops_the_server_it_started_when_told_to_stop(django_db_serialized_rollback, transactional_db):
    import psutil

    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": _database_url()}
    # As a shell starts a background job: SIGINT ignored, which children would inherit.
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "serve_demo", "--no-celery", f"127.0.0.1:{port}"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    deadline = time.monotonic() + 60
    while not _answers(port):
        assert demo.poll() is None, "serve_demo exited before serving"
        assert time.monotonic() < deadline, "serve_demo did not start within 60 s"
        time.sleep(0.2)
    children = psutil.Process(demo.pid).children(recursive=True)

    demo.send_signal(signal.SIGTERM)

    assert demo.wait(timeout=40) == 0
    assert [child.pid for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE] == []
    assert not _answers(port)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
