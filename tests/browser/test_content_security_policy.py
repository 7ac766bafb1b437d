"""The Content-Security-Policy leaves every page working: the admin, the API docs (Swagger UI, Redoc), the browsable
API and the import batch page run without one refused script, style, font or image."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Advisor
from customers.services import customer_upsert
from imports.models import ImportBatch
from tests.browser.conftest import log_in
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.slow
PASSWORD = "a-good-staff-password-2026"


def _watch(page) -> list[str]:
    """Every CSP refusal the browser reports (Chromium logs each one to the console), and every script error."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return problems


def test_the_admin_the_api_docs_and_the_browsable_api_work_under_the_policy(page, site):
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg")
    make_staff(Advisor.Role.HEAD_OFFICE, username="ines")
    claire = customer_upsert(source="pos", external_id="P-1", email="claire@example.com", first_name="Claire",
                             last_name="Martin", home_boutique=paris).customer
    problems = _watch(page)

    log_in(page, site, "ines", PASSWORD)
    for path in ("/admin/", "/admin/customers/customer/", f"/admin/customers/customer/{claire.pk}/change/",
                 "/admin/journeys/followuptemplate/add/", "/admin/imports/importbatch/"):
        response = page.goto(f"{site}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")

    page.goto(f"{site}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert page.inner_text(".swagger-ui .info .title").startswith("Atelier API")

    page.goto(f"{site}/api/v1/redoc/")
    page.wait_for_selector("redoc h1")
    assert page.inner_text("redoc h1").startswith("Atelier API")
    # The one thing refused, as meant: Redoc's "API docs by Redocly" logo, hard-wired to its CDN (it hides itself).
    redocly_logo = ("Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates the following Content "
                    "Security Policy directive: \"img-src 'self' data:\". The action has been blocked.")
    assert problems.count(redocly_logo) == 1
    problems.remove(redocly_logo)

    page.goto(f"{site}/api/v1/customers/")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("h1") == "Customer List"

    assert problems == []


def test_a_queued_imports_progress_follows_it_under_the_policy(page, site):
    make_staff(Advisor.Role.HEAD_OFFICE, username="ines")
    batch = ImportBatch.objects.create(kind="customers", file_name="clients.csv", checksum="0" * 64, file_size=10)
    problems = _watch(page)
    log_in(page, site, "ines", PASSWORD)

    with page.expect_request(lambda request: "status" in request.url and request.resource_type == "fetch"):
        page.goto(f"{site}{reverse('admin:imports_importbatch_change', args=[batch.pk])}")

    assert problems == []
