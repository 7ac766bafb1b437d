"""The public survey page on a phone (390×844) in a real browser: the client taps the score link of the email,
confirms, adds a comment and sees the thanks page; the answer is recorded once, with its comment."""

from __future__ import annotations

import pytest
from django.utils import timezone

from customers.services import customer_upsert
from customers.services.consent import consent_record
from feedback.models import Invitation, Response, Survey
from feedback.services import invitations_schedule_many
from tests.factories import BoutiqueFactory
from touchpoints.models import TouchpointType
from touchpoints.services import interaction_record

pytestmark = pytest.mark.slow


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_client_answers_from_the_emails_score_link_on_a_phone(site, phone):
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg", city="Paris", country="FR", timezone="Europe/Paris")
    Survey.objects.create(name="After a visit", kind="nps", question="Would you recommend us to a friend?",
                          trigger_type=TouchpointType.objects.get(code="store_visit"), delay_hours=0)
    claire = customer_upsert(source="pos", external_id="P-1", email="claire@example.com", first_name="Claire",
                             last_name="Martin", language="fr").customer
    consent_record(customer=claire, channel="email", purpose="marketing", is_granted=True,
                   occurred_at=timezone.now(), source="atelier")
    visit = interaction_record(customer=claire, touchpoint_type="store_visit", occurred_at=timezone.now(),
                               source="pos", boutique=paris).record
    invitations_schedule_many(interaction_ids=[visit.pk])
    token = Invitation.objects.get().token

    phone.goto(f"{site}/s/{token}/?score=9")
    assert phone.locator('a[aria-current="true"]').inner_text() == "9"
    assert Response.objects.count() == 0  # opening the link records nothing
    with phone.expect_navigation():
        phone.get_by_role("button", name="Envoyer ma réponse : 9").tap()
    assert phone.locator("h1").inner_text() == "Merci, Claire."
    phone.fill("#comment", "Un accueil parfait.")
    with phone.expect_navigation():
        phone.get_by_role("button", name="Envoyer mon commentaire").tap()

    assert phone.locator("h1").inner_text() == "Merci, Claire."
    assert phone.locator("#comment").count() == 0
    assert list(Response.objects.values_list("score", "comment")) == [(9, "Un accueil parfait.")]
    # Phone first: nothing wider than the screen.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
