"""Bodies json.loads reads but Atelier cannot process are a 400 in the house format on every endpoint, never a 500."""

from __future__ import annotations

import pytest

from journeys.models import Journey, Transition
from journeys.services import enrollment_enroll
from tests.api.conftest import key_client, make_client
from touchpoints.models import Interaction, Order

pytestmark = pytest.mark.django_db

SCOPES = ["interactions:write", "orders:write", "journeys:write", "journeys:read", "customers:read"]
DEEP = "The body is nested deeper than 64 levels."
SURROGATE = "The body holds a lone surrogate escape (such as \\ud800), which is no text."
BODIES = {
    "nested 1,000 deep": (b'{"items": ' + b"[" * 1000 + b"]" * 1000 + b"}", DEEP),
    "nested 100,000 deep": (b"[" * 100_000, DEEP),
    "lone surrogate in a value": (b'{"note": "\\ud800", "stage": 1}', SURROGATE),
    "lone surrogate in a key": (b'{"\\udfff": 1}', SURROGATE),
    "1e400": (b'{"stage": 1e400, "items": [{"external_id": 1e400}]}',
              "The body holds the number 1e400, which is out of range."),
    "NaN": (b'{"stage": NaN}', "The body holds NaN, which JSON does not allow."),
    "-Infinity": (b'{"stage": -Infinity}', "The body holds -Infinity, which JSON does not allow."),
}


@pytest.fixture
def paths(boutique_a):
    enrollment, _ = enrollment_enroll(customer=make_client(boutique_a, "ana@example.com"),
                                      journey=Journey.objects.get(slug="client-lifecycle"))
    return ["/api/v1/interactions/", "/api/v1/interactions/bulk/", "/api/v1/orders/", "/api/v1/orders/bulk/",
            f"/api/v1/enrollments/{enrollment.pk}/move/"]


@pytest.mark.parametrize("name", list(BODIES))
def test_a_body_the_house_refuses_is_a_400_in_the_house_format_on_every_write_endpoint(paths, name):
    body, message = BODIES[name]
    api, _ = key_client(scopes=SCOPES)

    answers = {path: api.post(path, data=body, content_type="application/json") for path in paths}

    assert {path: (answer.status_code, answer.json()) for path, answer in answers.items()} == dict.fromkeys(
        paths, (400, {"message": message, "extra": {}}))
    assert (Interaction.objects.count(), Order.objects.count(), Transition.objects.count()) == (0, 0, 1)


def test_a_paired_surrogate_escape_is_text_and_accepted(paths, boutique_a):
    api, _ = key_client(scopes=SCOPES)
    client = make_client(boutique_a, "ben@example.com")
    body = (f'{{"customer": "{client.public_id}", "touchpoint_type": "store_visit", "source": "pos", '
            '"occurred_at": "2026-03-02T15:00:00+01:00", "metadata": {"note": "\\ud83d\\ude00"}}')

    response = api.post("/api/v1/interactions/", data=body.encode(), content_type="application/json")

    assert response.status_code == 201, response.json()
    assert Interaction.objects.get().metadata == {"note": "\U0001f600"}
