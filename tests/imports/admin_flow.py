"""What the admin import tests share: the house the legacy fixtures refer to, and the steps of the new-import flow
driven through the Django test client (upload, map the columns, preview, confirm)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from django.test import Client
from django.urls import reverse

from imports.models import ImportBatch
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, UserFactory

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "legacy_crm_latin1_semicolon.csv"
LEGACY_MAPPING = FIXTURES / "mapping_legacy_crm.yaml"
NEW_URL = "/admin/imports/importbatch/new/"


def make_house() -> dict:
    """The boutiques, advisors and personas the legacy CRM file names (as in test_customer_import)."""
    paris = BoutiqueFactory(code="PAR-FSH", name="Paris Faubourg", country="FR")
    cannes = BoutiqueFactory(code="CAN-CRO", name="Cannes Croisette", city="Cannes", country="FR")
    AdvisorFactory(user=UserFactory(username="claire", email="claire.martin@maison.example"), boutique=paris)
    AdvisorFactory(user=UserFactory(username="sophie", email="sophie.bernard@maison.example"), boutique=cannes)
    for name, slug in (("Collectionneuse", "collectionneuse"), ("Nouvelle cliente", "nouvelle-cliente"),
                       ("Voyageur", "voyageur")):
        PersonaFactory(name=name, slug=slug)
    return {"paris": paris, "cannes": cannes}


def batch_url(batch: ImportBatch, suffix: str = "change/") -> str:
    return f"/admin/imports/importbatch/{batch.pk}/{suffix}"


def upload(browser: Client, path: Path, *, mapping: Path | None = None, **fields: str):
    """Step 1: post the file (and a mapping file); returns the response (a redirect to step 2 when accepted)."""
    data = {"kind": "customers", "encoding": "", "delimiter": "", "date_order": "", "decimal_comma": "auto",
            "default_region": "", **fields}
    with open(path, "rb") as stream:
        data["file"] = stream
        if mapping is None:
            return browser.post(NEW_URL, data)
        with open(mapping, "rb") as mapping_stream:
            data["mapping_file"] = mapping_stream
            return browser.post(NEW_URL, data)


def mapping_choices(response) -> dict[str, str]:
    """The mapping form's fields as the page prefilled them (what a user who changes nothing submits)."""
    form = response.context["form"]
    return {name: str(form[name].value() or "") for name in form.fields}


def map_columns(browser: Client, mapping_url: str, **overrides: str):
    """Step 2: open the mapping page and submit it as prefilled, with `overrides` (field name -> choice)."""
    page = browser.get(mapping_url)
    assert page.status_code == 200, page.content[:500]
    token = urlsplit(mapping_url).query.removeprefix("upload=")
    return browser.post(reverse("admin:imports_importbatch_mapping"),
                        {**mapping_choices(page), **overrides, "upload": token})


def batch_of(response) -> ImportBatch:
    """The batch a redirect leads to (/admin/imports/importbatch/<id>/change/)."""
    assert response.status_code == 302, getattr(response, "content", b"")[:800]
    return ImportBatch.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-2]))


def wait_until_finished(browser: Client, batch: ImportBatch, *, timeout: float = 90) -> dict:
    """Poll the batch's status endpoint (as the batch page does) until the batch has finished."""
    deadline = time.monotonic() + timeout
    while True:
        status = browser.get(batch_url(batch, "status.json")).json()
        if status["is_finished"]:
            return status
        assert time.monotonic() < deadline, f"batch {batch.pk} still {status['status']} after {timeout} s"
        time.sleep(0.2)
