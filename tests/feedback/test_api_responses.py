"""Survey answers through the API: listed within the caller's reach with filters, and recorded with the
feedback:write scope, once per (source, external_id); the same again completes the answer, never doubles it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from customers.models import Advisor
from feedback.models import RecoveryCase, Response, Survey
from feedback.selectors import nps_figure
from feedback.services import response_record
from tests.api.conftest import key_client, make_client, session_client
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Interaction

pytestmark = pytest.mark.django_db

URL = "/api/v1/responses/"
AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris")


@pytest.fixture
def london():
    return BoutiqueFactory(code="LON", name="London", city="London", country="GB", timezone="Europe/London")


@pytest.fixture
def nps() -> Survey:
    return Survey.objects.create(name="After your visit", kind="nps", question="Would you recommend us?")


@pytest.fixture
def ana(paris):
    return make_client(paris, "ana@example.com")


@pytest.fixture
def ben(london):
    return make_client(london, "ben@example.com")


def answer(survey: Survey, customer, external_id: str = "K-1", **extra) -> dict:
    return {"survey": survey.pk, "customer": str(customer.public_id), "score": 9, "source": "pos",
            "external_id": external_id, "responded_at": "2026-05-04T12:00:00+02:00", **extra}


# --- writes --------------------------------------------------------------------------------------------------


def test_a_key_with_feedback_write_records_an_answer_on_the_timeline(nps, ana):
    api, _ = key_client(scopes=["feedback:write", "customers:read"])

    response = api.post(URL, answer(nps, ana, comment="Lovely fitting", answers={"collection": "bags"}),
                        format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["customer"], body["survey"], body["score"], body["nps_class"], body["comment"], body["boutique"],
            body["source"], body["external_id"]) == (
        str(ana.public_id), nps.pk, 9, "promoter", "Lovely fitting", "PAR", "pos", "K-1",
    )
    saved = Response.objects.get()
    assert (saved.pk, saved.responded_at, saved.answers) == (body["id"], AT, {"collection": "bags"})
    assert Interaction.objects.filter(customer=ana, touchpoint_type__code="survey_answered").count() == 1


def test_the_same_answer_again_is_unchanged_and_a_later_comment_completes_it(nps, ana):
    api, _ = key_client(scopes=["feedback:write"])
    first = api.post(URL, answer(nps, ana, score=5), format="json")

    again = api.post(URL, answer(nps, ana, score=5), format="json")
    completed = api.post(URL, answer(nps, ana, score=5, comment="The wait was long."), format="json")

    assert (first.status_code, again.status_code, completed.status_code) == (201, 200, 200)
    assert first.json()["id"] == again.json()["id"] == completed.json()["id"]
    assert completed.json()["customer"] is None  # the key may not read clients
    saved = Response.objects.get()
    assert (saved.score, saved.nps_class, saved.comment) == (5, "detractor", "The wait was long.")
    assert RecoveryCase.objects.count() == 1
    assert Interaction.objects.filter(touchpoint_type__code="survey_answered").count() == 1


def test_the_client_is_found_by_email_and_never_created(nps, ana):
    api, _ = key_client(scopes=["feedback:write"])
    body = {key: value for key, value in answer(nps, ana).items() if key != "customer"}

    found = api.post(URL, {**body, "client": {"email": "ANA@example.com"}}, format="json")
    unknown = api.post(URL, {**body, "external_id": "K-2", "client": {"email": "nobody@example.com"}}, format="json")

    assert (found.status_code, unknown.status_code) == (201, 404)
    assert Response.objects.get().customer == ana
    assert unknown.json() == {"message": "No client answers to this among those you may reach.", "extra": {}}


def test_a_key_limited_to_a_boutique_cannot_answer_for_another_boutiques_client(nps, paris, ben):
    api, _ = key_client(scopes=["feedback:write"], boutiques=[paris])

    response = api.post(URL, answer(nps, ben), format="json")

    assert response.status_code == 404
    assert Response.objects.count() == 0


def test_a_key_without_feedback_write_is_refused(nps, ana):
    api, _ = key_client(scopes=["customers:read", "interactions:write"])

    response = api.post(URL, answer(nps, ana), format="json")

    assert response.status_code == 403
    assert response.json()["message"] == "This API key lacks the scope feedback:write."
    assert Response.objects.count() == 0


def test_bad_answers_are_refused_with_the_field_and_write_nothing(nps, ana):
    api, _ = key_client(scopes=["feedback:write"])
    csat = Survey.objects.create(name="Service", kind="csat", question="How was it?")

    off_scale = api.post(URL, answer(csat, ana, score=0), format="json")
    no_survey = api.post(URL, {**answer(nps, ana), "survey": 999999}, format="json")
    no_client = api.post(URL, {key: value for key, value in answer(nps, ana).items() if key != "customer"},
                         format="json")
    future = api.post(URL, answer(nps, ana, responded_at="2099-01-01T00:00:00+00:00"), format="json")
    no_id = api.post(URL, answer(nps, ana, external_id=""), format="json")

    assert [r.status_code for r in (off_scale, no_survey, no_client, future, no_id)] == [400] * 5
    assert off_scale.json()["extra"]["fields"] == {
        "score": ["0 is off the scale of the survey Service, which scores from 1 to 5."]
    }
    assert no_survey.json()["extra"]["fields"] == {"survey": ["No survey has the id 999999."]}
    assert list(no_client.json()["extra"]["fields"]) == ["customer"]
    assert list(future.json()["extra"]["fields"]) == ["responded_at"]
    assert list(no_id.json()["extra"]["fields"]) == ["external_id"]
    assert Response.objects.count() == Interaction.objects.count() == 0


def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(nps, ana):
    api, _ = key_client(scopes=["feedback:write"])

    first = api.post(URL, answer(nps, ana), format="json", headers={"Idempotency-Key": "k-1"})
    again = api.post(URL, answer(nps, ana), format="json", headers={"Idempotency-Key": "k-1"})

    assert (first.status_code, again.status_code, again.headers["Idempotent-Replayed"]) == (201, 201, "true")
    assert Response.objects.count() == 1


# --- reads ---------------------------------------------------------------------------------------------------


@pytest.fixture
def answers(nps, ana, ben, paris):
    """Ana (Paris, her advisor) a promoter in May and a detractor in June; Ben (London) a passive in May."""
    advisor = Advisor.objects.get(user=make_staff(Advisor.Role.ADVISOR, paris))
    ana.advisor = advisor
    ana.save(update_fields=["advisor"])
    csat = Survey.objects.create(name="Service", kind="csat", question="How was it?")
    response_record(survey=nps, customer=ana, score=10, responded_at=AT, source="pos", external_id="A-1")
    response_record(survey=nps, customer=ana, score=3, responded_at=AT + dt.timedelta(days=31), source="pos",
                    external_id="A-2")
    response_record(survey=nps, customer=ben, score=8, responded_at=AT, source="pos", external_id="B-1")
    response_record(survey=csat, customer=ben, score=4, responded_at=AT, source="pos", external_id="B-2")
    return {"advisor": advisor, "csat": csat}


def external_ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["external_id"] for row in response.json()["results"]]


def test_each_filter_narrows_the_list_exactly(answers, nps, paris, london):
    api, _ = key_client(scopes=["customers:read"])

    assert sorted(external_ids(api.get(URL))) == ["A-1", "A-2", "B-1", "B-2"]
    assert sorted(external_ids(api.get(URL, {"survey_id": nps.pk}))) == ["A-1", "A-2", "B-1"]
    assert sorted(external_ids(api.get(URL, {"boutique_id": london.pk}))) == ["B-1", "B-2"]
    assert sorted(external_ids(api.get(URL, {"advisor_id": answers["advisor"].pk}))) == ["A-1", "A-2"]
    assert external_ids(api.get(URL, {"nps_class": "detractor"})) == ["A-2"]
    assert sorted(external_ids(api.get(URL, {"responded_since": "2026-06-01T00:00:00Z"}))) == ["A-2"]
    assert sorted(external_ids(api.get(URL, {"responded_before": "2026-06-01T00:00:00Z"}))) == ["A-1", "B-1", "B-2"]
    assert external_ids(api.get(URL, {"ordering": "score", "survey_id": nps.pk})) == ["A-2", "B-1", "A-1"]


def test_the_list_is_scoped_to_the_callers_boutiques(answers, paris):
    limited, _ = key_client(scopes=["customers:read"], boutiques=[paris])
    advisor = session_client(answers["advisor"].user)

    assert sorted(external_ids(limited.get(URL))) == ["A-1", "A-2"]
    assert sorted(external_ids(advisor.get(URL))) == ["A-1", "A-2"]


def test_a_key_without_customers_read_may_not_list_answers(answers):
    api, _ = key_client(scopes=["feedback:write"])

    assert api.get(URL).status_code == 403


def test_an_invalid_filter_is_a_400_naming_it(answers):
    api, _ = key_client(scopes=["customers:read"])

    response = api.get(URL, {"nps_class": "fan", "survey_id": "1.5"})

    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"nps_class", "survey_id"}


# --- NPS with its confidence ---------------------------------------------------------------------------------


def test_the_nps_carries_its_95_percent_interval_and_n():
    # 50 promoters, 30 passives, 20 detractors: NPS 30; p + d - (p - d)² = 0.7 - 0.09 = 0.61.
    figure = nps_figure(key=1, label="Paris", promoters=50, passives=30, detractors=20)

    assert (figure.n, figure.nps, figure.ci_low, figure.ci_high, figure.is_small_sample) == (
        100, 30.0, 14.7, 45.3, False,
    )
    assert figure.warning == ""


def test_a_small_or_unanimous_sample_is_flagged_and_its_interval_held_within_100():
    unanimous = nps_figure(key=1, label="Paris", promoters=5, passives=0, detractors=0)
    empty = nps_figure(key=None, label="(none)", promoters=0, passives=0, detractors=0)

    assert (unanimous.nps, unanimous.ci_low, unanimous.ci_high, unanimous.is_small_sample) == (
        100.0, 100.0, 100.0, True,
    )
    assert unanimous.warning == "Only 5 answer(s): under 30, the NPS is too unsteady to be read alone."
    assert (empty.n, empty.ci_low, empty.ci_high) == (0, -100.0, 100.0)


def test_nps_by_boutique_advisor_survey_and_month_through_the_api(answers, nps, paris, london):
    api, _ = key_client(scopes=["customers:read"])

    by_boutique = api.get(f"{URL}nps/", {"group_by": "boutique"})
    by_month = api.get(f"{URL}nps/", {"group_by": "month"})
    by_advisor = api.get(f"{URL}nps/", {"group_by": "advisor", "boutique_id": paris.pk})
    by_survey = api.get(f"{URL}nps/", {"group_by": "survey", "responded_before": "2026-06-01T00:00:00Z"})

    assert by_boutique.status_code == 200, by_boutique.json()
    assert [(row["key"], row["label"], row["n"], row["nps"], row["is_small_sample"])
            for row in by_boutique.json()["results"]] == [
        (str(paris.pk), "Paris", 2, 0.0, True), (str(london.pk), "London", 1, 0.0, True),
    ]
    assert [(row["key"], row["n"], row["promoters"], row["passives"], row["detractors"], row["nps"])
            for row in by_month.json()["results"]] == [("2026-05", 2, 1, 1, 0, 50.0), ("2026-06", 1, 0, 0, 1, -100.0)]
    [advisor_row] = by_advisor.json()["results"]
    assert (advisor_row["key"], advisor_row["n"]) == (str(answers["advisor"].pk), 2)
    [survey_row] = by_survey.json()["results"]
    assert (survey_row["key"], survey_row["label"], survey_row["n"], survey_row["nps"]) == (
        str(nps.pk), "After your visit", 2, 50.0,
    )
    assert survey_row["warning"].startswith("Only 2 answer(s)")


def test_the_nps_is_scoped_and_needs_a_known_grouping(answers, paris):
    limited, _ = key_client(scopes=["customers:read"], boutiques=[paris])

    scoped = limited.get(f"{URL}nps/", {"group_by": "boutique"})
    unknown = limited.get(f"{URL}nps/", {"group_by": "persona"})

    assert [row["label"] for row in scoped.json()["results"]] == ["Paris"]
    assert unknown.status_code == 400
    assert unknown.json()["extra"]["fields"] == {"group_by": ["Give one of survey, boutique, advisor, month."]}
