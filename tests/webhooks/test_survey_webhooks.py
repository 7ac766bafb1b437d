"""Answers from outside survey tools: Typeform (Typeform-Signature) and a Delighted-style tool signed with Standard
Webhooks. Each is checked, recorded in the delivery log, and upserted by the tool's response id through feedback's
service: `created` then `updated` is one answer; a client found nowhere is a failed delivery replayed once the client
is imported."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from django.test import Client

from customers.services import customer_merge, customer_upsert
from feedback.models import RecoveryCase, Response, Survey
from tests.webhooks.conftest import SAMPLES, encode
from touchpoints.models import Interaction
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_replay
from webhooks.signatures import standard_webhook_headers, typeform_signature

pytestmark = pytest.mark.django_db

TYPEFORM_SECRET = "typeform-test-secret"
# Standard Webhooks secrets are whsec_ and base64 (the scheme's test vector's).
SURVEY_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def survey_secrets(settings):
    settings.TYPEFORM_WEBHOOK_SECRET = TYPEFORM_SECRET
    settings.SURVEY_WEBHOOK_SECRET = SURVEY_SECRET


@pytest.fixture
def survey() -> Survey:
    return Survey.objects.create(name="After your visit", kind="nps", question="Would you recommend us?")


@pytest.fixture
def lucie():
    return customer_upsert(source="pos", external_id="P-1", email="lucie.martin@example.com",
                           first_name="Lucie").customer


def typeform_body(**hidden: str) -> dict[str, Any]:
    payload = json.loads((SAMPLES / "typeform_form_response.json").read_text())
    payload["form_response"]["hidden"].update(hidden)
    return payload


def delighted_body(topic: str = "survey_response.created", **data: Any) -> dict[str, Any]:
    payload = copy.deepcopy(json.loads((SAMPLES / "survey_response_created.json").read_text()))
    payload["event_type"] = topic
    payload["event_data"].update(data)
    return payload


def typeform_post(client: Client, body: bytes, *, signature: str | None = None):
    headers = {"Typeform-Signature": signature if signature is not None else typeform_signature(body, TYPEFORM_SECRET)}
    return client.post("/webhooks/typeform/", data=body, content_type="application/json", headers=headers)


def survey_post(client: Client, body: bytes, *, message_id: str, timestamp: int | None = None,
                secret: str = SURVEY_SECRET):
    headers = standard_webhook_headers(body, secret, message_id=message_id, timestamp=timestamp or int(time.time()))
    return client.post("/webhooks/surveys/", data=body, content_type="application/json", headers=headers)


# --- Typeform ------------------------------------------------------------------------------------------------


def test_a_signed_typeform_answer_is_recorded_for_the_client_found_by_email(client, survey, lucie):
    response = typeform_post(client, encode(typeform_body()))

    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    answer = Response.objects.get()
    assert (answer.survey, answer.customer, answer.score, answer.nps_class) == (survey, lucie, 9, "promoter")
    assert (answer.source, answer.external_id) == ("typeform", "a3a12ec67a1365927098a606107fac15")
    assert answer.comment == "Camille was wonderful; the fitting room was too warm."
    assert answer.answers == {
        "recommend": 9, "better": "Camille was wonderful; the fitting room was too warm.",
        "collection": "Maroquinerie", "email": "lucie.martin@example.com", "call_me": True,
    }
    delivery = WebhookDelivery.objects.get()
    assert (delivery.provider, delivery.topic, delivery.event_id) == (
        "typeform", "form_response", "01JEB7Q0ZK3W5T8S3E2M4V6XYA",
    )
    assert delivery.result == f"Answer a3a12ec67a1365927098a606107fac15 recorded (score 9) for client {lucie.pk}."
    assert Interaction.objects.filter(customer=lucie, touchpoint_type__code="survey_answered").count() == 1


def test_a_typeform_answer_with_a_bad_signature_is_refused_and_records_nothing(client, survey, lucie):
    body = encode(typeform_body())

    forged = typeform_post(client, body, signature="sha256=" + "A" * 44)
    unprefixed = typeform_post(client, body, signature=typeform_signature(body, TYPEFORM_SECRET)[len("sha256="):])
    other_secret = typeform_post(client, body, signature=typeform_signature(body, "another-secret"))

    assert [forged.status_code, unprefixed.status_code, other_secret.status_code] == [401, 401, 401]
    assert list(WebhookDelivery.objects.values_list("outcome", "error_code", "body")) == [
        ("rejected", "bad_signature", "")] * 3
    assert Response.objects.count() == 0
    assert Interaction.objects.count() == 0


def test_a_typeform_retry_of_the_same_event_is_a_duplicate(client, survey, lucie):
    body = encode(typeform_body())
    typeform_post(client, body)

    again = typeform_post(client, body)

    assert again.json()["outcome"] == "duplicate"
    assert Response.objects.count() == 1


def test_the_hidden_fields_name_the_client_by_atelier_id_and_the_survey_by_id(client, lucie):
    other = Survey.objects.create(name="Alterations", kind="nps", question="How were your alterations?")
    customer_upsert(source="crm", external_id="C-9", email="someone.else@example.com")

    typeform_post(client, encode(typeform_body(atelier_id=str(lucie.public_id), survey=str(other.pk),
                                               email="someone.else@example.com")))

    answer = Response.objects.get()
    assert (answer.survey, answer.customer) == (other, lucie)


def test_a_typeform_answer_for_no_known_survey_fails_with_the_reason(client, lucie):
    typeform_post(client, encode(typeform_body()))

    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code) == ("failed", "invalid")
    assert delivery.error_message.startswith("No Atelier survey is named 'After your visit'")
    assert Response.objects.count() == 0


# --- Standard Webhooks, Delighted-style events --------------------------------------------------------------


def test_created_then_updated_with_the_comment_is_one_answer(client, survey, lucie):
    created = survey_post(client, encode(delighted_body()), message_id="msg_1")
    updated = survey_post(
        client, encode(delighted_body("survey_response.updated", comment="The alteration took three weeks.",
                                      updated_at=1777889400)),
        message_id="msg_2",
    )

    assert [created.json()["outcome"], updated.json()["outcome"]] == ["processed", "processed"]
    answer = Response.objects.get()
    assert (answer.source, answer.external_id, answer.score, answer.nps_class) == (
        "survey_tool", "8723419", 4, "detractor",
    )
    assert answer.comment == "The alteration took three weeks."
    assert answer.answers == {"enum_12": "Alteration"}
    assert Interaction.objects.filter(customer=lucie, touchpoint_type__code="survey_answered").count() == 1
    assert RecoveryCase.objects.filter(response=answer).count() == 1
    assert list(WebhookDelivery.objects.order_by("pk").values_list("topic", "result")) == [
        ("survey_response.created", f"Answer 8723419 recorded (score 4) for client {lucie.pk}."),
        ("survey_response.updated", f"Answer 8723419 updated (score 4) for client {lucie.pk}."),
    ]


def test_a_late_created_after_its_update_is_ignored_and_keeps_the_comment(client, survey, lucie):
    survey_post(client, encode(delighted_body("survey_response.updated", comment="Too long a wait.",
                                              updated_at=1777889400)), message_id="msg_2")

    late = survey_post(client, encode(delighted_body()), message_id="msg_1")

    assert late.json()["outcome"] == "ignored"
    assert Response.objects.get().comment == "Too long a wait."


def test_a_standard_webhook_with_a_bad_or_stale_signature_is_refused(client, survey, lucie):
    body = encode(delighted_body())
    other_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="

    forged = survey_post(client, body, message_id="msg_1", secret=other_secret)
    stale = survey_post(client, body, message_id="msg_2", timestamp=int(time.time()) - 3600)
    headers = standard_webhook_headers(body, SURVEY_SECRET, message_id="msg_3", timestamp=int(time.time()))
    tampered = client.post("/webhooks/surveys/", data=body.replace(b'"score": 4', b'"score": 10'),
                           content_type="application/json", headers=headers)
    unsigned = client.post("/webhooks/surveys/", data=body, content_type="application/json")

    assert [forged.status_code, stale.status_code, tampered.status_code, unsigned.status_code] == [401] * 4
    assert set(WebhookDelivery.objects.values_list("outcome", "error_code")) == {("rejected", "bad_signature")}
    assert Response.objects.count() == 0


def test_a_survey_endpoint_with_an_unusable_secret_refuses_deliveries_and_says_why(client, settings, survey):
    settings.SURVEY_WEBHOOK_SECRET = "whsec_"

    response = client.post("/webhooks/surveys/", data=b"{}", content_type="application/json")

    assert response.status_code == 401
    delivery = WebhookDelivery.objects.get()
    assert (delivery.error_code, delivery.error_message) == (
        "not_configured", "SURVEY_WEBHOOK_SECRET is empty once decoded (whsec_ followed by base64): deliveries are "
        "refused.",
    )


def test_an_answer_from_an_unknown_client_fails_and_is_replayed_once_the_client_is_imported(client, survey):
    response = survey_post(client, encode(delighted_body()), message_id="msg_1")

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code) == ("failed", "unknown_client")
    assert delivery.error_message == (
        "No client answers to lucie.martin@example.com, +33612345678; import or merge the client, then replay."
    )
    assert Response.objects.count() == 0

    lucie = customer_upsert(source="crm", external_id="C-1", phone="+33612345678").customer
    replayed = webhook_replay(delivery=delivery)

    assert (replayed.outcome, replayed.attempts, replayed.error_code) == ("processed", 2, "")
    answer = Response.objects.get()
    assert (answer.customer, answer.score) == (lucie, 4)


def test_a_replayed_delivery_that_still_finds_no_client_stays_failed_and_writes_nothing(client, survey):
    survey_post(client, encode(delighted_body()), message_id="msg_1")

    replayed = webhook_replay(delivery=WebhookDelivery.objects.get())

    assert (replayed.outcome, replayed.attempts, replayed.error_code) == ("failed", 2, "unknown_client")
    assert Response.objects.count() == Interaction.objects.count() == 0


def test_a_score_off_the_scale_fails_with_the_field_named(client, survey, lucie):
    survey_post(client, encode(delighted_body(score=11)), message_id="msg_1")

    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code) == ("failed", "invalid")
    assert delivery.error_message.endswith(
        "(score: 11 is off the scale of the survey After your visit, which scores from 0 to 10.)"
    )
    assert Response.objects.count() == 0


def test_an_event_the_house_does_not_handle_is_acknowledged_and_ignored(client, survey, lucie):
    response = survey_post(client, encode(delighted_body("unsubscribe.created")), message_id="msg_1")

    assert response.json()["outcome"] == "ignored"
    assert Response.objects.count() == 0


def test_the_identity_comes_before_the_email(client, survey, lucie):
    namesake = customer_upsert(source="crm", external_id="C-2", email="other@example.com").customer
    body = delighted_body()
    body["event_data"]["person_properties"]["crm_id"] = "C-2"

    survey_post(client, encode(body), message_id="msg_1")

    assert Response.objects.get().customer == namesake


def test_identities_of_two_clients_fail_until_they_are_merged_then_the_replay_records_it(client, survey, lucie):
    duplicate = customer_upsert(source="crm", external_id="C-2", email="lucie.m@example.com").customer
    body = delighted_body()
    body["event_data"]["person_properties"].update({"pos_id": "P-1", "crm_id": "C-2"})
    survey_post(client, encode(body), message_id="msg_1")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.error_code) == ("failed", "unknown_client")
    # The house's matching rule's refusal (customers.matching.MatchConflict), naming the ids that disagree.
    assert delivery.error_message.startswith("These ids (pos:P-1, crm:C-2) belong to different clients; merge the "
                                             "clients first.")

    customer_merge(surviving=lucie, merged=duplicate)
    replayed = webhook_replay(delivery=delivery)

    assert replayed.outcome == "processed"
    assert Response.objects.get().customer == lucie
