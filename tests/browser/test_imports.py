"""Head office brings a legacy CRM file in through the admin, in a real browser: upload with its mapping file,
check the proposed columns, preview, confirm, and roll back."""

from __future__ import annotations

import pytest

from customers.models import Advisor, Customer
from imports.models import ImportBatch
from tests.browser.conftest import log_in
from tests.factories import make_staff
from tests.imports.admin_flow import LEGACY, LEGACY_MAPPING, make_house

pytestmark = pytest.mark.slow
PASSWORD = "a-good-staff-password-2026"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_head_office_previews_imports_and_rolls_back_a_legacy_file(site, page, screenshot, media_root):
    make_house()
    make_staff(Advisor.Role.HEAD_OFFICE, username="margaux")
    log_in(page, site, "margaux", PASSWORD)

    page.goto(f"{site}/admin/imports/importbatch/")
    page.click("text=New import")
    page.select_option("#id_kind", "customers")
    page.set_input_files("#id_file", str(LEGACY))
    page.set_input_files("#id_mapping_file", str(LEGACY_MAPPING))
    page.click("input[type=submit]")
    page.wait_for_load_state("networkidle")
    screenshot("import-mapping")

    # The mapping file's choices are proposed; the user leaves out the notes column before previewing.
    courriel = page.locator("label", has_text="Courriel").get_attribute("for")
    assert page.locator(f"#{courriel}").input_value() == "email"
    remarques = page.locator("label", has_text="Remarques").get_attribute("for")
    page.select_option(f"#{remarques}", "")
    page.click("text=Preview (dry run)")
    page.wait_for_load_state("networkidle")
    screenshot("import-preview")

    assert "This was a dry run: nothing was written." in page.inner_text("#import-result")
    assert page.inner_text("#import-counts li[data-outcome=new] strong") == "5"
    assert page.inner_text("#import-counts li[data-outcome=skipped] strong") == "1"
    assert Customer.objects.count() == 0

    page.click("#import-confirm input[type=submit]")
    page.wait_for_load_state("networkidle")
    screenshot("import-result")

    assert page.inner_text("#import-result h2") == "Imported"
    assert Customer.objects.count() == 5
    assert Customer.objects.get(email="helene.dupre@example.fr").advisor_notes == ""  # the column left out

    page.click("#import-rollback-link")
    page.click("text=Yes, roll this import back")
    page.wait_for_load_state("networkidle")

    assert "was rolled back" in page.inner_text(".messagelist")
    assert Customer.objects.count() == 0
    assert list(ImportBatch.objects.order_by("pk").values_list("status", flat=True)) == ["previewed", "rolled_back"]
