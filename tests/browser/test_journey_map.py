"""Head office opens the journey map in a real browser, sees the Sankey drawn from our own static files, clicks a
drop-off number and lands on the client list filtered to exactly those clients. Screenshots of each page."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import Advisor
from insight.services import rollups_rebuild
from tests.browser.conftest import SCREENSHOTS, log_in
from tests.factories import BoutiqueFactory, make_staff
from tests.insight.helpers import START, buy, make_client, make_journey, walk

pytestmark = pytest.mark.slow
PASSWORD = "a-good-staff-password-2026"


@pytest.fixture
def house(site):
    milan, paris = BoutiqueFactory(code="MIL", name="Milano"), BoutiqueFactory(code="PAR", name="Paris")
    journey, stages = make_journey("Client journey", targets=(10, 20, None))
    make_staff(Advisor.Role.HEAD_OFFICE, username="siege")
    clients = {}
    for index, (name, boutique, gaps) in enumerate([
        ("stays", milan, [3, 4]), ("drops", milan, []), ("moves", paris, [2]), ("also-drops", paris, []),
    ]):
        client = make_client(boutique)
        clients[name] = client
        walk(client, journey, stages, gaps, start=START + dt.timedelta(days=index))
        buy(client, START + dt.timedelta(days=index), "900.00")
    rollups_rebuild()
    return {"journey": journey, "stages": stages, "clients": clients}


def test_head_office_clicks_a_drop_off_number_and_lands_on_exactly_those_clients(house, site, page, screenshot):
    # Script errors and refused resources (a CSP violation is a console error); the browser's own favicon request
    # (a 404 the site has always answered) is not the page's.
    problems = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 and "favicon" not in response.url else None)
    log_in(page, site, "siege", PASSWORD)

    page.goto(f"{site}/admin/insight/?journey={house['journey'].pk}&since=2026-01-01&until=2026-03-31")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#journey-map-chart canvas")
    screenshot("journey-map")
    dropped = page.locator(f'a[data-measure="dropped"][data-stage="{house["stages"][0].pk}"]')
    assert dropped.inner_text() == "2"

    dropped.click()
    page.wait_for_load_state("networkidle")
    screenshot("journey-map-dropped-clients")

    names = page.locator("#result_list tbody tr").all_inner_texts()
    expected = {house["clients"]["drops"].last_name, house["clients"]["also-drops"].last_name}
    assert len(names) == 2
    assert {name for name in expected if any(name in row for row in names)} == expected
    assert "clients behind a figure" in page.content()
    assert problems == []


def test_the_journey_map_reads_on_a_tablet(house, site, browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    tablet = context.new_page()
    log_in(tablet, site, "siege", PASSWORD)
    tablet.goto(f"{site}/admin/insight/?journey={house['journey'].pk}&since=2026-01-01&until=2026-03-31")
    tablet.wait_for_selector("#journey-map-chart canvas")
    SCREENSHOTS.mkdir(exist_ok=True)
    tablet.screenshot(path=str(SCREENSHOTS / "journey-map-tablet.png"), full_page=True)

    scroll_width = tablet.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert scroll_width <= 1024
