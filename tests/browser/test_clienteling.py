"""An advisor's and a manager's day in the admin, in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from customers.models import Advisor, Customer
from customers.services import customer_upsert
from journeys.models import Journey
from journeys.services import enrollment_enroll
from tests.browser.conftest import log_in
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Interaction
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.slow
PASSWORD = "a-good-staff-password-2026"


@pytest.fixture
def house(site):
    """Two boutiques, their staff, and a few clients with some history."""
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg", city="Paris", country="FR", timezone="Europe/Paris")
    london = BoutiqueFactory(code="LON", name="London Bond Street", city="London", country="GB",
                             timezone="Europe/London", currency="GBP")
    advisor = make_staff(Advisor.Role.ADVISOR, paris, username="camille")
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")
    claire = customer_upsert(
        source="pos", external_id="P-1", email="claire.martin@example.com", phone="+33612345678",
        first_name="Claire", last_name="Martin", home_boutique=paris, advisor=advisor.advisor,
        preferences={"sizes": ["38"], "categories": ["Handbags"], "styles": ["Classic"]},
    ).customer
    moment = dt.datetime(2026, 10, 3, 15, tzinfo=dt.UTC)
    order_record(source="pos", external_id="O-1", customer=claire, placed_at=moment, currency="EUR",
                 total="4200.00", lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="4200.00")],
                 boutique=paris, advisor=advisor.advisor)
    interaction_record(customer=claire, touchpoint_type="product_view", occurred_at=moment - dt.timedelta(days=3),
                       source="ecommerce", external_id="view-1")
    enrollment_enroll(customer=claire, journey=Journey.objects.get(slug="client-lifecycle"),
                      occurred_at=moment - dt.timedelta(days=30))
    james = customer_upsert(source="pos", external_id="L-1", email="james@example.com", first_name="James",
                            last_name="Whitfield", home_boutique=london).customer
    return {"paris": paris, "advisor": advisor, "manager": manager, "claire": claire, "james": james}


def test_an_advisor_finds_a_client_by_phone_logs_a_visit_and_sees_it_on_the_timeline(house, site, page, screenshot):
    log_in(page, site, "camille", PASSWORD)

    page.goto(f"{site}/admin/customers/customer/")
    page.fill("#searchbar", "06 12 34 56 78")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state("networkidle")
    screenshot("client-list")
    page.click("text=Martin")
    page.wait_for_load_state("networkidle")

    page.check("input[name=touchpoint_type][value=store_visit]")
    page.fill("#c360-log-note", "Tried the Aurore bag in green; will come back Saturday.")
    page.click("form[data-action=log] button[type=submit]")
    page.wait_for_load_state("networkidle")
    screenshot("client-page")

    visit = Interaction.objects.get(customer=house["claire"], touchpoint_type__code="store_visit")
    assert (visit.source, visit.advisor.user.username, visit.metadata) == (
        "atelier", "camille", {"note": "Tried the Aurore bag in green; will come back Saturday."}
    )
    timeline = page.inner_text("body")
    assert "Tried the Aurore bag in green; will come back Saturday." in timeline
    assert timeline.index("Store visit") < timeline.index("4,200.00 EUR")  # newest first


def test_an_advisor_cannot_open_another_boutiques_client(house, site, page):
    log_in(page, site, "camille", PASSWORD)

    page.goto(f"{site}/admin/customers/customer/{house['james'].pk}/change/")
    page.wait_for_load_state("networkidle")

    body = page.inner_text("body")
    assert "doesn’t exist" in body or "doesn't exist" in body
    assert "Whitfield" not in body
    assert "james@example.com" not in body


def test_a_manager_merges_two_duplicates_after_seeing_them_side_by_side(house, site, page, screenshot):
    duplicate = customer_upsert(source="ecommerce", external_id="shop-9", email="c.martin@example.com",
                                first_name="Claire", last_name="Martin", birth_date=dt.date(1985, 4, 12),
                                home_boutique=house["paris"]).customer
    claire = house["claire"]
    log_in(page, site, "helene", PASSWORD)

    page.goto(f"{site}/admin/customers/customer/?q=Martin&book=all")
    page.check(f"input.action-select[value='{claire.pk}']")
    page.check(f"input.action-select[value='{duplicate.pk}']")
    page.select_option("select[name=action]", "merge_duplicates")
    page.click("button[name=index]")
    page.wait_for_load_state("networkidle")
    assert "claire.martin@example.com" in page.inner_text("table.desk-merge")
    screenshot("merge-confirmation")
    page.check(f"input[name=surviving][value='{claire.pk}']")
    page.fill("input[name=reason]", "Same client in store and online")
    page.click("input[type=submit].default")
    page.wait_for_load_state("networkidle")

    assert list(Customer.objects.filter(last_name="Martin").values_list("pk", flat=True)) == [claire.pk]
    claire.refresh_from_db()
    assert (claire.email, claire.birth_date) == ("claire.martin@example.com", dt.date(1985, 4, 12))
    assert sorted(claire.identities.values_list("system", "external_id")) == [("ecommerce", "shop-9"), ("pos", "P-1")]
    assert "Merged" in page.inner_text("body")


def test_the_advisors_day_is_their_landing_page(house, site, page, screenshot):
    today_in_paris = timezone.now().astimezone(zoneinfo.ZoneInfo("Europe/Paris")).date()
    Customer.objects.filter(pk=house["claire"].pk).update(birth_date=today_in_paris.replace(year=1990))

    log_in(page, site, "camille", PASSWORD)
    screenshot("advisor-day")

    assert page.url == f"{site}/admin/"
    assert page.inner_text("#day-birthdays li").startswith("Claire Martin\nToday · turns ")


def test_at_ipad_portrait_the_day_has_a_wide_search_box_and_no_sideways_scroll(house, site, page, screenshot):
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, site, "camille", PASSWORD)
    screenshot("advisor-day-768")

    box = page.locator("#client-search-q").bounding_box()
    button = page.locator("#client-search button").bounding_box()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    assert box["width"] >= 240
    assert box["height"] >= 44
    assert button["height"] >= 44
    assert overflow <= 0
    page.fill("#client-search-q", "Martin")
    page.click("#client-search button")
    page.wait_for_load_state("networkidle")
    assert "/admin/customers/customer/?q=Martin" in page.url
    assert "Claire Martin" in page.inner_text("#result_list")
