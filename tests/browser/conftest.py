"""Browser tests: Playwright drives Debian's chromium against the live server (real HTTP, real database)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a root shell on a machine with no network but the loopback: no sandbox, no GPU, no phoning home.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]



def pytest_collection_modifyitems(config, items):
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"NO CHROMIUM at {CHROMIUM}: browser tests skipped (.ci/run installs it)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)



@pytest.fixture
def browser(site, monkeypatch):
    """Chromium for one test. It starts after the test database is ready and stops before it is flushed:
    Playwright's sync API runs an event loop in the test's thread, and Django refuses the ORM beside a running
    loop unless told that these calls (the test's own, made between browser steps) are safe."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def site(django_db_serialized_rollback, live_server):
    """The live server's address; the data migrations' rows are put back after each test."""
    return live_server.url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under tests/browser/screenshots/ (an artifact of the run, not committed)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, site: str, username: str, password: str) -> None:
    page.goto(f"{site}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")
