"""Journeys and enrollments through the API: read with their stages and transitions, moved with cause api."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys.models import Enrollment, Journey, Stage, Transition
from journeys.services import enrollment_enroll
from tests.api.conftest import key_client, make_client, session_client
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

URL = "/api/v1/enrollments/"


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


def stage(journey: Journey, key: str) -> Stage:
    return journey.stages.get(key=key)


@pytest.fixture
def enrollment_a(boutique_a, lifecycle) -> Enrollment:
    enrollment, _ = enrollment_enroll(customer=make_client(boutique_a, "ana@example.com"), journey=lifecycle)
    return enrollment


@pytest.fixture
def enrollment_b(boutique_b, lifecycle) -> Enrollment:
    enrollment, _ = enrollment_enroll(customer=make_client(boutique_b, "ben@example.com"), journey=lifecycle)
    return enrollment


def move_url(enrollment: Enrollment) -> str:
    return f"{URL}{enrollment.pk}/move/"


def test_a_key_moves_a_client_and_the_transition_names_the_key(enrollment_a, lifecycle):
    api, api_key = key_client(scopes=["journeys:write"])
    consideration = stage(lifecycle, "consideration")

    response = api.post(move_url(enrollment_a), {"stage": consideration.pk, "note": "Asked for a fitting"},
                        format="json")

    assert response.status_code == 201, response.json()
    transition = Transition.objects.get(pk=response.json()["id"])
    assert (transition.cause, transition.actor, transition.actor_label, transition.note, transition.to_stage) == (
        "api", None, f"API key shop ({api_key.prefix})", "Asked for a fitting", consideration)
    assert response.json()["actor"] == f"API key shop ({api_key.prefix})"
    enrollment_a.refresh_from_db()
    assert enrollment_a.stage == consideration


def test_staff_moving_by_session_are_the_transitions_actor(enrollment_a, advisor_a, lifecycle):
    api = session_client(advisor_a)

    response = api.post(move_url(enrollment_a), {"stage": stage(lifecycle, "purchase").pk}, format="json")

    assert response.status_code == 201
    transition = Transition.objects.get(pk=response.json()["id"])
    assert (transition.cause, transition.actor, transition.actor_label) == ("api", advisor_a, "")


def test_a_retried_move_with_its_idempotency_key_moves_once(enrollment_a, lifecycle):
    api, _ = key_client(scopes=["journeys:write"])
    body = {"stage": stage(lifecycle, "consideration").pk}

    first = api.post(move_url(enrollment_a), body, format="json", HTTP_IDEMPOTENCY_KEY="move-1")
    retry = api.post(move_url(enrollment_a), body, format="json", HTTP_IDEMPOTENCY_KEY="move-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert Transition.objects.filter(enrollment=enrollment_a, cause="api").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"stage": "awareness-of-nothing"}, "stage"), ({"stage": 999_999}, "stage"), ({}, "stage"),
     ({"stage": "SAME"}, "to_stage"), ({"stage": "OTHER_JOURNEY"}, "to_stage"), ({"stage": "NEXT", "note": "x" * 241},
                                                                                 "note")],
)
def test_a_move_that_cannot_be_made_is_a_400_and_writes_nothing(enrollment_a, lifecycle, body, field):
    other = Journey.objects.create(name="VIP", slug="vip")
    other_stage = Stage.objects.create(journey=other, key="vip", name="VIP", position=1)
    chosen = {"SAME": enrollment_a.stage_id, "OTHER_JOURNEY": other_stage.pk,
              "NEXT": stage(lifecycle, "purchase").pk}.get(body.get("stage"), body.get("stage"))
    api, _ = key_client(scopes=["journeys:write"])

    response = api.post(move_url(enrollment_a), {**body, **({"stage": chosen} if "stage" in body else {})},
                        format="json")

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]
    assert Transition.objects.filter(enrollment=enrollment_a).count() == 1  # the enrollment's own


def test_a_key_without_journeys_write_cannot_move(enrollment_a, lifecycle):
    api, _ = key_client(scopes=["journeys:read", "interactions:write"])

    response = api.post(move_url(enrollment_a), {"stage": stage(lifecycle, "purchase").pk}, format="json")

    assert response.status_code == 403
    assert Transition.objects.filter(enrollment=enrollment_a, cause="api").count() == 0


def test_staff_without_the_move_permission_cannot_move(enrollment_a, lifecycle, boutique_a):
    viewer = make_staff("advisor", boutique_a)
    viewer.groups.clear()

    response = session_client(viewer).post(move_url(enrollment_a), {"stage": stage(lifecycle, "purchase").pk},
                                           format="json")

    assert response.status_code == 403


def test_another_boutiques_enrollment_is_404(enrollment_a, boutique_b, lifecycle):
    api, _ = key_client(scopes=["journeys:write", "journeys:read"], boutiques=[boutique_b])

    moved = api.post(move_url(enrollment_a), {"stage": stage(lifecycle, "purchase").pk}, format="json")
    read = api.get(f"{URL}{enrollment_a.pk}/")

    assert (moved.status_code, read.status_code) == (404, 404)
    assert Transition.objects.filter(enrollment=enrollment_a, cause="api").count() == 0


# --- reads -----------------------------------------------------------------------------------------------------------


def test_journeys_are_read_with_their_stages_in_order(lifecycle):
    api, _ = key_client(scopes=["journeys:read"])

    response = api.get("/api/v1/journeys/")

    assert response.status_code == 200
    [journey] = response.json()["results"]
    assert [row["key"] for row in journey["stages"]] == [
        "awareness", "consideration", "purchase", "post_purchase", "loyalty", "advocacy"]


def test_enrollments_are_filtered_by_journey_stage_and_client(enrollment_a, enrollment_b, lifecycle):
    api, _ = key_client(scopes=["journeys:read", "journeys:write"])
    api.post(move_url(enrollment_b), {"stage": stage(lifecycle, "purchase").pk}, format="json")

    def ids(**params) -> list[int]:
        return [row["id"] for row in api.get(URL, params).json()["results"]]

    assert ids(journey_id=lifecycle.pk) == [enrollment_b.pk, enrollment_a.pk]
    assert ids(stage_id=stage(lifecycle, "purchase").pk) == [enrollment_b.pk]
    assert ids(stage="awareness") == [enrollment_a.pk]
    assert ids(customer=str(enrollment_a.customer.public_id)) == [enrollment_a.pk]
    detail = api.get(f"{URL}{enrollment_b.pk}/").json()
    assert [(row["cause"], row["to_stage"]) for row in detail["transitions"]] == [
        ("api", stage(lifecycle, "purchase").pk), ("enrollment", stage(lifecycle, "awareness").pk)]


def test_the_enrollment_list_runs_the_same_queries_for_one_row_or_thirty(boutique_a, lifecycle, advisor_a):
    api, _ = key_client(scopes=["journeys:read"])
    api.get(URL)  # the key's first use is written once
    purchase = stage(lifecycle, "purchase")

    def queries(rows: int, prefix: str) -> int:
        for n in range(rows):
            enrollment, _ = enrollment_enroll(customer=make_client(boutique_a, f"{prefix}{n}@example.com"),
                                              journey=lifecycle)
            api_staff = session_client(advisor_a)
            api_staff.post(move_url(enrollment), {"stage": purchase.pk}, format="json")
        with CaptureQueriesContext(connection) as captured:
            response = api.get(URL, {"page_size": 50})
        assert len(response.json()["results"]) == Enrollment.objects.count()
        assert all(len(row["transitions"]) == 2 for row in response.json()["results"])
        return len(captured)

    assert queries(1, "a") == queries(29, "b")


def test_the_journey_list_runs_the_same_queries_for_one_journey_or_thirty(lifecycle):
    api, _ = key_client(scopes=["journeys:read"])
    api.get("/api/v1/journeys/")  # the key's first use is written once

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api.get("/api/v1/journeys/", {"page_size": 50})
        assert len(response.json()["results"]) == Journey.objects.count()
        return len(captured)

    one = queries()
    for n in range(29):
        journey = Journey.objects.create(name=f"Journey {n}", slug=f"journey-{n}")
        Stage.objects.create(journey=journey, key="first", name="First", position=1)
    assert queries() == one
