"""The staff site on the shop floor's tablet and on a laptop (issue 17): each role's main path (the landing page,
the client list, the client page) at 768x1024, 1024x768 and 1440x900, in a real browser. Nothing scrolls sideways,
the search box is at least 240 px wide, every button, field and select is at least 44 px high, and the client
list's last column (the phone) is in view. Screenshots go to tests/browser/screenshots/ (the closing note's)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from customers.models import Advisor
from customers.services import customer_upsert
from journeys.models import FollowUp, FollowUpTemplate
from tests.browser.conftest import log_in
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.slow
PASSWORD = "a-good-staff-password-2026"
VIEWPORTS = [(768, 1024), (1024, 768), (1440, 900)]
ROLES = {"advisor": "camille", "manager": "helene", "head_office": "anne"}

# Everything a finger is meant to hit in the page's content (the header's links are text links, as on any site).
TAP_TARGETS = ("#content button, #content input[type=submit], #content .button, #content select, "
               "#content input[type=text], #content input[type=search], #content input[type=datetime-local], "
               "#changelist-filter a")
# The first visible ones that measure under 44 px (their selector and size), in page order.
SMALL_TARGETS = """(selector) => Array.from(document.querySelectorAll(selector)).filter((element) => {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && box.height < 44;
}).slice(0, 5).map((element) => `${element.tagName.toLowerCase()}#${element.id}.${element.className}:` +
    `${element.textContent.trim().slice(0, 20)} ${Math.round(element.getBoundingClientRect().height)}px`)"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture
def shop(site):
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg", city="Paris", country="FR", timezone="Europe/Paris")
    advisor = make_staff(Advisor.Role.ADVISOR, paris, username="camille")
    make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")
    make_staff(Advisor.Role.HEAD_OFFICE, username="anne")
    template = FollowUpTemplate.objects.create(name="Thank-you call", channel=FollowUpTemplate.Channel.ADVISOR_TASK)
    moment = timezone.now() - dt.timedelta(days=20)
    clients = []
    for number, (first, last) in enumerate([("Claire", "Martin"), ("Sara", "Al Muhairi"),
                                            ("Béatrice", "de Villiers-Montmorency"), ("Yuki", "Tanaka")]):
        client = customer_upsert(
            source="pos", external_id=f"P-{number}", email=f"client{number}.{last.lower().replace(' ', '')}"
            "@a-long-domain-of-the-house.example.com", phone=f"+3361234567{number}", first_name=first,
            last_name=last, home_boutique=paris, advisor=advisor.advisor,
        ).customer
        order_record(source="pos", external_id=f"O-{number}", customer=client, placed_at=moment, currency="EUR",
                     total="66050.00", lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="66050.00")],
                     boutique=paris, advisor=advisor.advisor)
        interaction_record(customer=client, touchpoint_type="store_visit", occurred_at=moment,
                           source="atelier", external_id=f"visit-{number}", metadata={"note": "Tried the Kelly 28."})
        FollowUp.objects.create(customer=client, template=template, channel=template.channel,
                                due_at=timezone.now() - dt.timedelta(hours=number), advisor=advisor.advisor,
                                subject="Thank her for the Kelly", body="Ask how the bag wears.",
                                idempotency_key=f"layout:{number}")
        clients.append(client)
    return {"paris": paris, "clients": clients}


def _check_layout(page, *, name: str, search_box: str | None) -> None:
    page.screenshot(path=_screenshot_path(name), full_page=True)
    assert page.evaluate(OVERFLOW) <= 0, f"{name}: the page scrolls sideways"
    if search_box:
        assert page.locator(search_box).bounding_box()["width"] >= 240, f"{name}: the search box is narrow"
    assert page.evaluate(SMALL_TARGETS, TAP_TARGETS) == [], f"{name}: tap targets under 44 px"


def _screenshot_path(name: str) -> str:
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_s_main_path_fits_the_screen(shop, site, page, role, width, height):
    page.set_viewport_size({"width": width, "height": height})
    log_in(page, site, ROLES[role], PASSWORD)
    size = f"{width}x{height}"

    # The landing page: the day, the boutique's day, or the house
    _check_layout(page, name=f"{role}-landing-{size}", search_box="#client-search-q")

    # The client list, every column in view (the phone, last, not clipped)
    page.goto(f"{site}/admin/customers/customer/?book=all")
    _check_layout(page, name=f"{role}-client-list-{size}", search_box="#searchbar")
    results = page.evaluate("(() => { const r = document.querySelector('#changelist .results');"
                            " return r.scrollWidth - r.clientWidth; })()")
    assert results <= 0, f"{role} {size}: the client list's columns are clipped"
    phone = page.locator("#result_list th.column-phone").bounding_box()
    assert phone["x"] + phone["width"] <= width

    # The client page
    page.goto(f"{site}/admin/customers/customer/{shop['clients'][2].pk}/change/")
    _check_layout(page, name=f"{role}-client-page-{size}", search_box=None)


def test_at_ipad_portrait_a_task_s_confirmation_stays_in_view(shop, site, page):
    # Given an advisor's day with tasks, on a tablet held upright
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, site, "camille", PASSWORD)

    # When they record an outcome from the last task of the list
    page.locator("#day-tasks li").last.locator("button[value=reached]").click()
    page.wait_for_load_state("networkidle")

    # Then the confirmation is on screen where the page landed (the tasks), not scrolled away above it
    page.screenshot(path=_screenshot_path("advisor-task-done-768x1024"))
    message = page.locator(".messagelist li.success").bounding_box()
    assert message is not None
    assert 0 <= message["y"] < 1024
    assert "The task is done." in page.inner_text(".messagelist")


def test_after_a_call_from_a_task_the_day_prompts_for_the_outcome_and_keeps_the_note(shop, site, page):
    # Given an advisor's day on a tablet, whose tasks offer to call the client
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, site, "camille", PASSWORD)
    # The headless browser has no phone app: the call link's default is kept from leaving, its click still counts
    page.evaluate("document.addEventListener('click', (event) => {"
                  " if (event.target.closest('a[data-reach]')) { event.preventDefault(); } }, true)")
    item = page.locator("#day-tasks li").first
    task_id = int(item.get_attribute("data-task"))
    assert item.locator("a[data-reach=call]").get_attribute("href").startswith("tel:+336")
    assert item.locator("a[data-reach=call]").bounding_box()["height"] >= 44

    # When they tap Call, and come back to the page
    item.locator("a[data-reach=call]").click()

    # Then the task asks how it went, its note has the focus, and what they type is kept with the outcome
    item.locator(".reach-ask").wait_for(state="visible")
    assert page.evaluate("document.activeElement.name") == "note"
    page.keyboard.type("Will come on Saturday for the fitting.")
    page.screenshot(path=_screenshot_path("advisor-task-prompt-768x1024"))
    item.locator("button[value=reached]").click()
    page.wait_for_load_state("networkidle")
    task = FollowUp.objects.get(pk=task_id)
    assert (task.outcome, task.outcome_note) == ("reached", "Will come on Saturday for the fitting.")
