"""Configuration from the environment: production refuses to start misconfigured, the defaults work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command

from config.embedded_postgres import embedded_database_settings
from config.probes import choose_broker

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "a-production-grade-secret-key-with-enough-length-and-variety-0123456789-XYZ",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "atelier.example",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.atelier.example:587",
    "PUBLIC_BASE_URL": "https://atelier.example",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deployment_checks_without_a_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS", "EMAIL_URL",
                                      "PUBLIC_BASE_URL"])
def test_production_refuses_to_start_without_a_required_variable(variable):
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != variable}

    result = manage("check", env=env)

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable}" in result.stderr


@pytest.mark.parametrize("secret_key", [
    "x",
    "short-but-varied-0123456789",  # 27 characters
    "ab" * 40,  # long, two distinct characters
    "django-insecure-" + "k3y-generated-by-startproject-and-never-changed-0123456789",
])
def test_production_refuses_to_start_with_a_weak_secret_key(secret_key):
    result = manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": secret_key})

    assert result.returncode == 1
    assert ("ImproperlyConfigured: SECRET_KEY is too weak for production: give at least 50 random characters"
            in result.stderr)


# What Chromium sends when someone opens an API address in a tab.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
BROWSER_GET = (
    "from django.test import Client; "
    f"response = Client().get('/api/v1/customers/', HTTP_ACCEPT={BROWSER_ACCEPT!r}, HTTP_HOST='atelier.example', "
    "secure=True); print(response.status_code, response['Content-Type'])"
)


def test_production_answers_a_browser_with_json_not_the_browsable_api():
    result = manage("shell", "-c", BROWSER_GET, env={**PRODUCTION_ENV, "CACHE_URL": "locmem://"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "401 application/json"


def test_locally_a_browser_gets_the_browsable_api():
    env = {**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "config.settings.local", "CACHE_URL": "locmem://"}

    result = manage("shell", "-c", BROWSER_GET, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "401 text/html; charset=utf-8"


def test_sqlite_is_refused():
    result = manage("check", env={"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": "sqlite:///x.db"})

    assert result.returncode != 0
    assert "Atelier runs on PostgreSQL only" in result.stderr


@pytest.mark.django_db
def test_migrations_are_in_step_with_the_models():
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


def test_without_a_database_url_an_embedded_postgresql_starts_in_the_given_folder(tmp_path):
    database = embedded_database_settings(tmp_path / "pgdata")

    with psycopg.connect(dbname=database["NAME"], user=database["USER"], host=database["HOST"],
                         port=database["PORT"]) as connection:
        version = connection.execute("SHOW server_version").fetchone()[0]
        name = connection.execute("SELECT current_database()").fetchone()[0]

    assert name == "atelier"
    assert int(version.split(".")[0]) >= 15
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()


def test_a_configured_broker_is_used_as_given():
    assert choose_broker("amqp://guest:guest@127.0.0.1:5672//") == ("amqp://guest:guest@127.0.0.1:5672//", False)


def test_without_a_broker_answering_tasks_run_eagerly():
    # Port 9 (discard) has no listener here: the default broker does not answer.
    assert choose_broker("", default_url="redis://127.0.0.1:9/0") == ("memory://", True)


def test_the_eager_fallback_is_announced_by_a_system_check(settings):
    from core.checks import tasks_run_eagerly

    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.TESTING = False

    warnings = tasks_run_eagerly(None)

    assert [warning.id for warning in warnings] == ["core.W001"]
    assert "tasks run eagerly" in warnings[0].msg


def test_a_read_replica_is_configured_from_the_environment():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_REPLICA_URL": "postgres://reader@replica.internal:5432/atelier"}
    code = "import django; django.setup(); from django.conf import settings; from core.db import analytics_database; " \
           "print(settings.DATABASES['replica']['HOST'], analytics_database())"

    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=60)

    assert result.stdout.split() == ["replica.internal", "replica"], result.stderr


def test_without_a_replica_analytics_read_from_the_primary():
    from core.db import analytics_database

    assert analytics_database() == "default"


def test_the_embedded_postgresql_stops_with_its_last_user_even_after_one_was_killed(tmp_path):
    data_dir = tmp_path / "pgdata"
    join = (
        "import sys, time; from pathlib import Path; from config.embedded_postgres import embedded_database_settings; "
        "embedded_database_settings(Path(sys.argv[1])); print('ready', flush=True); time.sleep(float(sys.argv[2]))"
    )
    killed = subprocess.Popen([sys.executable, "-c", join, str(data_dir), "120"], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert killed.stdout.readline().strip() == "ready"
    killed.kill()  # SIGKILL: no exit handler runs, its pid stays on pgserver's list
    killed.wait()

    last = subprocess.run([sys.executable, "-c", join, str(data_dir), "0"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60)

    assert last.stdout.strip() == "ready", last.stderr
    assert not (data_dir / "postmaster.pid").exists()
