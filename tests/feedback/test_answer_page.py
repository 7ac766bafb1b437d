"""The public survey page /s/<token>/: the question in the client's language with a link per score, a GET that
records nothing, a POST that records once (score first, comment later) until the link expires, polite 404, 410 and
429 pages, CSRF, and nothing about the client but their first name."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client, override_settings

from config.probes import choose_cache
from customers.models import Boutique, Customer
from customers.services import customer_upsert
from customers.services.consent import consent_record
from customers.services.privacy import customer_personal_data_erase
from feedback.models import Invitation, RecoveryCase, Response, Survey
from feedback.services import invitations_schedule_many
from touchpoints.models import Interaction, TouchpointType
from touchpoints.services import interaction_record

pytestmark = pytest.mark.django_db

VISITED = dt.datetime(2026, 5, 4, 15, tzinfo=dt.UTC)
NOW = VISITED + dt.timedelta(days=2)


@pytest.fixture(autouse=True)
def clock():
    cache.clear()  # the page's rate is counted in the cache
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
    cache.clear()


@pytest.fixture
def paris() -> Boutique:
    return Boutique.objects.create(code="PAR", name="Paris Faubourg", city="Paris", country="FR")


def invited(paris: Boutique, *, language: str = "", kind: str = "nps", number: int = 1,
            translations: dict | None = None) -> Invitation:
    survey, _ = Survey.objects.get_or_create(name=f"After a visit ({kind})", defaults={
        "kind": kind, "question": "How likely are you to recommend us to a friend?", "delay_hours": 0,
        "trigger_type": TouchpointType.objects.get(code="store_visit"), "question_translations": translations or {},
    })
    customer = customer_upsert(source="crm", external_id=f"C-{number}", email=f"c{number}@example.com",
                               first_name="Camille", last_name="Arnoux", language=language).customer
    consent_record(customer=customer, channel="email", purpose="marketing", is_granted=True, occurred_at=VISITED,
                   source="atelier")
    visit = interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=VISITED, source="pos",
                               boutique=paris).record
    invitations_schedule_many(interaction_ids=[visit.pk])
    return Invitation.objects.get(interaction=visit, survey=survey)


def page(invitation: Invitation) -> str:
    return f"/s/{invitation.token}/"


def answers() -> list[tuple[int, str]]:
    return list(Response.objects.values_list("score", "comment"))


def test_the_page_asks_the_question_with_a_link_per_score_and_names_the_visit_but_only_the_first_name(client, paris):
    invitation = invited(paris)

    response = client.get(page(invitation))

    html = response.content.decode()
    assert response.status_code == 200
    assert (response["Cache-Control"], response["Referrer-Policy"], response["Content-Language"]) == (
        "no-store", "same-origin", "en"
    )
    assert "How likely are you to recommend us to a friend?" in html
    assert "Dear Camille," in html
    assert "About your visit to Paris Faubourg on May 4, 2026." in html
    assert [f'href="?score={n}"' in html for n in range(11)] == [True] * 11
    assert 'href="?score=11"' not in html
    assert ("Arnoux" in html, "c1@example.com" in html, "<script" in html) == (False, False, False)
    assert answers() == []


def test_a_score_link_shows_the_score_chosen_and_records_nothing(client, paris):
    invitation = invited(paris)

    responses = [client.get(f"{page(invitation)}?score={score}") for score in (9, 9, 0)]
    nonsense = client.get(f"{page(invitation)}?score=eleven")

    assert [r.status_code for r in responses] == [200, 200, 200]
    html = responses[0].content.decode()
    assert '<a href="?score=9" aria-current="true">9</a>' in html
    assert '<input type="hidden" name="score" value="9">' in html
    assert "Send my answer: 9" in html
    assert 'name="score"' not in nonsense.content.decode()
    assert answers() == []
    assert not Interaction.objects.filter(touchpoint_type__code="survey_answered").exists()


def test_a_post_records_the_answer_on_the_timeline_once_and_a_second_submission_changes_nothing(client, paris):
    invitation = invited(paris)

    first = client.post(page(invitation), {"score": "9"})
    second = client.post(page(invitation), {"score": "2", "comment": ""})

    assert (first.status_code, second.status_code) == (200, 200)
    assert "Thank you, Camille." in first.content.decode()
    assert "Thank you, Camille." in second.content.decode()
    assert answers() == [(9, "")]
    invitation.refresh_from_db()
    assert invitation.answered_at == NOW
    timeline = Interaction.objects.filter(touchpoint_type__code="survey_answered")
    assert list(timeline.values_list("metadata", flat=True)) == [
        {"survey": "After a visit (nps)", "survey_kind": "nps", "score": 9, "nps_class": "promoter"},
    ]


def test_a_comment_completes_the_answer_later_once(client, paris):
    invitation = invited(paris)
    client.post(page(invitation), {"score": "6"})

    offered = client.get(page(invitation))
    completed = client.post(page(invitation), {"comment": "  The fitting was rushed.  "})
    again = client.post(page(invitation), {"comment": "Something else", "score": "10"})

    assert 'name="comment"' in offered.content.decode()
    assert (completed.status_code, again.status_code) == (200, 200)
    assert 'name="comment"' not in completed.content.decode()
    assert answers() == [(6, "The fitting was rushed.")]


def test_a_score_and_a_comment_can_come_together(client, paris):
    invitation = invited(paris)

    client.post(page(invitation), {"score": "10", "comment": "Perfect"})

    assert answers() == [(10, "Perfect")]


def test_a_score_off_the_scale_or_missing_or_a_comment_too_long_is_a_polite_400_and_writes_nothing(client, paris):
    invitation = invited(paris)

    statuses = [client.post(page(invitation), data).status_code
                for data in ({"score": "11"}, {"score": "nine"}, {}, {"score": "8", "comment": "x" * 2001})]

    assert statuses == [400, 400, 400, 400]
    assert "Keep the comment under 2000 characters." in client.post(
        page(invitation), {"score": "8", "comment": "x" * 2001}).content.decode()
    assert answers() == []


def test_a_csat_survey_scores_from_1_to_5(client, paris):
    invitation = invited(paris, kind="csat")

    html = client.get(page(invitation)).content.decode()
    refused = client.post(page(invitation), {"score": "0"})

    assert [f'href="?score={n}"' in html for n in range(7)] == [False, True, True, True, True, True, False]
    assert ("Very dissatisfied" in html, refused.status_code) == (True, 400)


def test_the_page_speaks_french_or_italian_to_clients_who_do(client, paris):
    french = invited(paris, language="fr", translations={"fr": "Nous recommanderiez-vous à un ami ?"})
    italian = invited(paris, language="it-CH", number=2)
    german = invited(paris, language="de", number=3)

    in_french = client.get(f"{page(french)}?score=3").content.decode()
    in_italian = client.get(page(italian)).content.decode()
    in_english = client.get(page(german)).content.decode()
    thanks = client.post(page(french), {"score": "3"}).content.decode()

    assert '<html lang="fr">' in in_french
    assert "Nous recommanderiez-vous à un ami ?" in in_french
    assert "Bonjour Camille," in in_french
    assert "À propos de votre visite à Paris Faubourg le 4 mai 2026." in in_french
    assert "Envoyer ma réponse : 3" in in_french
    assert "Merci, Camille." in thanks
    assert '<html lang="it">' in in_italian
    assert "How likely are you to recommend us to a friend?" in in_italian  # no Italian wording given
    assert "A proposito della sua visita a Paris Faubourg il 04 Maggio 2026." in in_italian
    assert "Per niente probabile" in in_italian
    assert '<html lang="en">' in in_english


def test_an_unknown_token_or_one_never_to_be_sent_gets_a_polite_404(client, paris):
    invitation = invited(paris)
    held = Invitation.objects.create(survey=invitation.survey, customer=invitation.customer, status="not_sent",
                                     reason="throttled", expires_at=NOW + dt.timedelta(days=14))

    responses = [client.get("/s/not-a-token/"), client.get(page(held)), client.post(page(held), {"score": "9"}),
                 client.get(f"/s/{'x' * 300}/")]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert "This link is not valid" in responses[0].content.decode()
    assert answers() == []


def test_an_expired_link_gets_a_polite_410_and_takes_no_answer_nor_comment(client, paris, clock):
    open_one, answered = invited(paris), invited(paris, number=2)
    client.post(page(answered), {"score": "5"})

    clock.move_to(VISITED + dt.timedelta(days=14, seconds=1))
    expired = [client.get(page(open_one)), client.post(page(open_one), {"score": "9"}),
               client.post(page(open_one), {})]
    late_comment = client.post(page(answered), {"comment": "Too late"})
    thanks = client.get(page(answered))

    assert [r.status_code for r in expired] == [410, 410, 410]
    assert "This survey is closed" in expired[0].content.decode()
    assert late_comment.status_code == 410
    assert (thanks.status_code, 'name="comment"' in thanks.content.decode()) == (200, False)
    assert answers() == [(5, "")]


def test_the_link_of_an_erased_client_is_closed(client, paris):
    invitation = invited(paris)
    customer_personal_data_erase(customer=Customer.objects.get(pk=invitation.customer_id), actor=None,
                                 erased_at=NOW - dt.timedelta(minutes=1))

    assert client.post(page(invitation), {"score": "9"}).status_code == 410
    assert answers() == []


def test_a_post_without_the_csrf_token_is_refused_and_records_nothing(paris):
    invitation = invited(paris)
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post(page(invitation), {"score": "9"})
    form = browser.get(f"{page(invitation)}?score=9")
    token = form.cookies["csrftoken"].value
    accepted = browser.post(page(invitation), {"score": "9", "csrfmiddlewaretoken": token})

    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert answers() == [(9, "")]


def test_requests_past_the_rate_from_one_address_get_a_polite_429(client, paris, settings):
    settings.SURVEY_PAGE_RATE = "3/min"
    invitation = invited(paris)

    statuses = [client.get(f"/s/guess-{n}/", REMOTE_ADDR="203.0.113.7").status_code for n in range(3)]
    refused = client.post(page(invitation), {"score": "9"}, REMOTE_ADDR="203.0.113.7")
    elsewhere = client.get(page(invitation), REMOTE_ADDR="198.51.100.2")

    assert statuses == [404, 404, 404]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many requests came from your connection." in refused.content.decode()
    assert elsewhere.status_code == 200
    assert answers() == []


def test_when_the_cache_does_not_answer_the_page_still_works_and_the_outage_is_logged(client, paris, caplog,
                                                                                     settings):
    settings.SURVEY_PAGE_RATE = "1/min"
    invitation = invited(paris)
    # Port 9 (discard) has no Redis: every cache call fails.
    with (override_settings(CACHES={"default": choose_cache("redis://127.0.0.1:9/1")}),
          caplog.at_level(logging.WARNING, logger="feedback.throttling")):
        statuses = [client.get(page(invitation)).status_code, client.post(page(invitation), {"score": "8"}).status_code]

    assert statuses == [200, 200]
    assert "feedback.throttle_cache_unavailable scope=survey_page" in caplog.text
    assert answers() == [(8, "")]


def test_a_detractors_answer_on_the_page_opens_a_recovery_case(client, paris):
    invitation = invited(paris)

    client.post(page(invitation), {"score": "3", "comment": "Kept waiting"})

    assert list(RecoveryCase.objects.values_list("response__score", "customer_id", "status")) == [
        (3, invitation.customer_id, "open")
    ]
