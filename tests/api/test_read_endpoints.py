"""The read endpoints: who may call them (the permission matrix), what they show, and their query counts."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Advisor, Persona, Segment
from customers.services import consent_record
from tests.api.conftest import key_client, make_client, session_client
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, ProductFactory, make_staff
from touchpoints.models import TouchpointType
from touchpoints.services import interaction_record

pytestmark = pytest.mark.django_db

ALL_READ_SCOPES = ["customers:read", "catalogue:read"]


@pytest.fixture
def clients(boutique_a, boutique_b):
    return {"A": make_client(boutique_a, "anna@example.com"), "B": make_client(boutique_b, "bea@example.com")}


@pytest.fixture
def callers(boutique_a, boutique_b, advisor_a, head_office):
    from rest_framework.test import APIClient

    return {
        "anonymous": APIClient(),
        "advisor A": session_client(advisor_a),
        "manager A": session_client(make_staff(Advisor.Role.BOUTIQUE_MANAGER, boutique_a)),
        "head office": session_client(head_office),
        "key": key_client(scopes=ALL_READ_SCOPES)[0],
        "key without scope": key_client(scopes=["orders:write", "interactions:write"])[0],
        "key for B": key_client(scopes=ALL_READ_SCOPES, boutiques=[boutique_b])[0],
    }


# Caller → (status for boutique A's client, status for boutique B's client).
CLIENT_MATRIX = {
    "anonymous": (401, 401),
    "advisor A": (200, 404),
    "manager A": (200, 404),
    "head office": (200, 200),
    "key": (200, 200),
    "key without scope": (403, 403),
    "key for B": (404, 200),
}


@pytest.mark.parametrize("caller", CLIENT_MATRIX)
@pytest.mark.parametrize("endpoint", ["/api/v1/customers/{id}/", "/api/v1/customers/{id}/timeline/"])
def test_a_client_is_shown_only_to_who_may_see_them(callers, clients, caller, endpoint):
    statuses = tuple(
        callers[caller].get(endpoint.format(id=clients[boutique].public_id)).status_code for boutique in "AB"
    )

    assert statuses == CLIENT_MATRIX[caller]


# Caller → the clients the list shows, or the status it refuses with.
LIST_MATRIX = {
    "anonymous": 401,
    "advisor A": {"A"},
    "manager A": {"A"},
    "head office": {"A", "B"},
    "key": {"A", "B"},
    "key without scope": 403,
    "key for B": {"B"},
}


@pytest.mark.parametrize("caller", LIST_MATRIX)
def test_the_client_list_holds_the_clients_the_caller_may_see(callers, clients, caller):
    response = callers[caller].get("/api/v1/customers/")

    expected = LIST_MATRIX[caller]
    if isinstance(expected, int):
        assert response.status_code == expected
        assert set(response.json()) == {"message", "extra"}
    else:
        assert response.status_code == 200
        shown = {row["id"] for row in response.json()["results"]}
        assert shown == {str(clients[boutique].public_id) for boutique in expected}


REFERENCE_MATRIX = {
    # endpoint: (anonymous, advisor A, head office, key, key without scope)
    "/api/v1/boutiques/": (401, 200, 200, 200, 403),
    "/api/v1/advisors/": (401, 200, 200, 200, 403),
    "/api/v1/personas/": (401, 200, 200, 200, 403),
    "/api/v1/segments/": (401, 200, 200, 200, 403),
    "/api/v1/touchpoint-types/": (401, 200, 200, 200, 403),
    "/api/v1/products/": (401, 200, 200, 200, 403),
}


@pytest.mark.parametrize("endpoint", REFERENCE_MATRIX)
def test_reference_lists_need_a_login_and_the_scope(callers, endpoint):
    names = ["anonymous", "advisor A", "head office", "key", "key without scope"]

    statuses = tuple(callers[name].get(endpoint).status_code for name in names)

    assert statuses == REFERENCE_MATRIX[endpoint]


def test_a_catalogue_read_scope_does_not_read_clients(clients):
    client, _ = key_client(scopes=["catalogue:read"])

    assert client.get("/api/v1/products/").status_code == 200
    assert client.get("/api/v1/customers/").status_code == 403


def test_staff_without_the_view_permission_are_refused(db, clients):
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)  # a staff login with no role and no permission

    assert session_client(user).get("/api/v1/customers/").status_code == 403


def test_advisors_see_their_boutiques_staff_only(boutique_a, boutique_b, advisor_a):
    AdvisorFactory(boutique=boutique_b)

    response = session_client(advisor_a).get("/api/v1/advisors/")

    assert [row["boutique_id"] for row in response.json()["results"]] == [boutique_a.pk]


def test_customer_detail_shows_identities_consent_preferences_metrics_and_relations(boutique_a, head_office):
    persona = Persona.objects.create(name="Collector", slug="collector")
    customer = make_client(
        boutique_a, "anna@example.com", identities={"ecommerce": "SHOP-7"}, persona=persona,
        preferences={"sizes": ["38"]},
    )
    consent_record(customer=customer, channel="email", purpose="marketing", is_granted=True, source="ecommerce",
                   occurred_at=timezone.now())

    body = session_client(head_office).get(f"/api/v1/customers/{customer.public_id}/").json()

    assert body["id"] == str(customer.public_id)
    assert body["email"] == "anna@example.com"
    assert {"system": "ecommerce", "external_id": "SHOP-7"} in body["identities"]
    assert body["consent"]["email_marketing"] is True
    assert body["consent"]["sms_marketing"] is False
    assert body["preferences"] == {"sizes": ["38"], "categories": [], "styles": []}
    assert body["persona"] == {"id": persona.pk, "slug": "collector", "name": "Collector"}
    assert body["home_boutique"] == {"id": boutique_a.pk, "code": "PAR", "name": "Paris"}
    assert body["metrics"]["order_count"] == 0
    assert body["metrics"]["lifetime_value"] == "0.00"
    assert "advisor_notes" in body


def test_customer_filters_by_email_phone_identity_tier_and_update(boutique_a, boutique_b, head_office):
    anna = make_client(boutique_a, "anna@example.com", identities={"ecommerce": "SHOP-7"}, phone="+33612345678")
    make_client(boutique_b, "bea@example.com", identities={"ecommerce": "SHOP-8"})
    api = session_client(head_office)

    def ids(query: str) -> list[str]:
        response = api.get(f"/api/v1/customers/?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("email=ANNA@example.com") == [str(anna.public_id)]
    assert ids("phone=%2B33 6 12 34 56 78") == [str(anna.public_id)]
    assert ids("identity=ecommerce:SHOP-7") == [str(anna.public_id)]
    assert ids(f"boutique_id={boutique_a.pk}") == [str(anna.public_id)]
    assert len(ids("value_tier=prospect")) == 2
    assert ids("updated_since=2999-01-01T00:00:00Z") == []
    assert ids("q=anna") == [str(anna.public_id)]
    response = api.get("/api/v1/customers/?identity=nowhere")
    assert response.status_code == 400
    assert "identity" in response.json()["extra"]["fields"]


def test_customer_list_orders_by_an_allowed_field_and_bounds_the_page_size(boutique_a, head_office):
    for number in range(3):
        make_client(boutique_a, f"c{number}@example.com")
    api = session_client(head_office)

    response = api.get("/api/v1/customers/?ordering=-last_name&page_size=2")

    body = response.json()
    assert body["count"] == 3
    assert [row["last_name"] for row in body["results"]] == ["c2", "c1"]
    assert api.get("/api/v1/customers/?page_size=1000").status_code == 200


def test_timeline_pages_with_a_cursor(boutique_a, head_office):
    customer = make_client(boutique_a, "anna@example.com")
    start = timezone.now() - dt.timedelta(days=10)
    for day in range(3):
        interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=start + dt.timedelta(days=day),
                           source="pos", external_id=f"V-{day}", boutique=boutique_a)
    api = session_client(head_office)

    first = api.get(f"/api/v1/customers/{customer.public_id}/timeline/?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [entry["item"]["external_id"] for entry in first["results"]] == ["V-2", "V-1"]
    assert [entry["item"]["external_id"] for entry in second["results"]] == ["V-0"]
    assert second["next"] is None
    assert first["results"][0]["kind"] == "interaction"
    assert first["results"][0]["item"]["touchpoint_type"] == "store_visit"
    assert first["results"][0]["item"]["boutique"] == "PAR"


def _queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(context.captured_queries)


def _grow_clients(boutique, advisor, persona, count: int, start: int) -> None:
    for number in range(start, start + count):
        make_client(boutique, f"client{number}@example.com", identities={"ecommerce": f"E-{number}"},
                    advisor=advisor, persona=persona)


@pytest.mark.parametrize("caller", ["head office", "key for A"])
def test_client_list_runs_the_same_queries_for_1_or_30_rows(boutique_a, head_office, caller):
    advisor = Advisor.objects.get(user=make_staff(Advisor.Role.ADVISOR, boutique_a))
    persona = Persona.objects.create(name="Collector", slug="collector")
    api = session_client(head_office) if caller == "head office" else key_client(
        scopes=ALL_READ_SCOPES, boutiques=[boutique_a])[0]
    _grow_clients(boutique_a, advisor, persona, 1, 0)
    api.get("/api/v1/customers/")  # warms the key's last use and the session

    one = _queries(api, "/api/v1/customers/?page_size=100")
    _grow_clients(boutique_a, advisor, persona, 29, 1)
    thirty = _queries(api, "/api/v1/customers/?page_size=100")

    assert one == thirty


@pytest.mark.parametrize(
    ("url", "grow"),
    [
        ("/api/v1/advisors/", lambda boutique, n: [AdvisorFactory(boutique=boutique) for _ in range(n)]),
        ("/api/v1/products/", lambda boutique, n: [ProductFactory() for _ in range(n)]),
        ("/api/v1/boutiques/", lambda boutique, n: [BoutiqueFactory() for _ in range(n)]),
        ("/api/v1/personas/", lambda boutique, n: [PersonaFactory() for _ in range(n)]),
        ("/api/v1/segments/", lambda boutique, n: [
            Segment.objects.create(name=f"Segment {uuid.uuid4().hex[:8]}", slug=f"segment-{uuid.uuid4().hex[:8]}",
                                   definition={"value_tier": "vic"})
            for _ in range(n)
        ]),
        ("/api/v1/touchpoint-types/", lambda boutique, n: [
            TouchpointType.objects.create(code=f"type_{uuid.uuid4().hex[:8]}", name=f"Type {uuid.uuid4().hex[:8]}",
                                          channel="boutique", kind="physical")
            for _ in range(n)
        ]),
    ],
)
def test_reference_lists_run_the_same_queries_for_1_or_30_rows(boutique_a, head_office, url, grow):
    api = session_client(head_office)
    grow(boutique_a, 1)
    api.get(url)

    one = _queries(api, url + "?page_size=100")
    grow(boutique_a, 29)
    thirty = _queries(api, url + "?page_size=100")

    assert one == thirty


def test_timeline_runs_the_same_queries_for_1_or_30_entries(boutique_a, head_office):
    customer = make_client(boutique_a, "anna@example.com")
    advisor = Advisor.objects.get(user=make_staff(Advisor.Role.ADVISOR, boutique_a))
    api = session_client(head_office)
    start = timezone.now() - dt.timedelta(days=60)

    def grow(first: int, count: int) -> None:
        for day in range(first, first + count):
            interaction_record(customer=customer, touchpoint_type="store_visit", source="pos",
                               occurred_at=start + dt.timedelta(days=day), external_id=f"V-{day}",
                               boutique=boutique_a, advisor=advisor)

    grow(0, 1)
    url = f"/api/v1/customers/{customer.public_id}/timeline/?page_size=100"
    api.get(url)
    one = _queries(api, url)
    grow(1, 29)
    thirty = _queries(api, url)

    assert one == thirty


def test_timeline_refuses_a_cursor_it_did_not_give_out(boutique_a, head_office):
    customer = make_client(boutique_a, "anna@example.com")

    response = session_client(head_office).get(f"/api/v1/customers/{customer.public_id}/timeline/?cursor=bm9wZQ")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"cursor": ["This cursor is not one the timeline gave out."]}


def test_an_unknown_client_is_404_in_the_shared_error_format(head_office):
    response = session_client(head_office).get("/api/v1/customers/00000000-0000-0000-0000-000000000000/")

    assert response.status_code == 404
    assert response.json() == {"message": "No Customer matches the given query.", "extra": {}}


def test_timeline_shows_stage_moves_from_the_journeys_app(boutique_a, head_office):
    from journeys.models import Journey
    from journeys.services import enrollment_enroll

    customer = make_client(boutique_a, "anna@example.com")
    journey = Journey.objects.filter(is_active=True).order_by("pk").first()
    enrollment_enroll(customer=customer, journey=journey, actor=head_office, occurred_at=timezone.now())

    results = session_client(head_office).get(f"/api/v1/customers/{customer.public_id}/timeline/").json()["results"]

    transitions = [entry for entry in results if entry["kind"] == "transition"]
    assert len(transitions) == 1
    item = transitions[0]["item"]
    assert item["journey"] == journey.name
    assert item["from_stage"] is None
    assert item["to_stage"] == journey.stages.order_by("position").first().name
    assert item["cause"] == "enrollment"
    assert item["actor"] == head_office.get_full_name()


def test_timeline_keeps_the_kinds_asked_for(boutique_a, head_office):
    from journeys.models import Journey
    from journeys.services import enrollment_enroll

    customer = make_client(boutique_a, "anna@example.com")
    enrollment_enroll(customer=customer, journey=Journey.objects.filter(is_active=True).order_by("pk").first())
    interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=timezone.now(), source="pos",
                       external_id="V-1", boutique=boutique_a)
    api = session_client(head_office)
    url = f"/api/v1/customers/{customer.public_id}/timeline/"

    only_interactions = api.get(url + "?kind=interaction").json()["results"]
    both = api.get(url + "?kind=interaction&kind=transition").json()["results"]

    assert [entry["kind"] for entry in only_interactions] == ["interaction"]
    assert sorted(entry["kind"] for entry in both) == ["interaction", "transition"]


def test_the_written_out_client_representation_is_the_generic_one_field_for_field(boutique_a):
    from rest_framework import serializers

    from customers.api.serializers import CustomerDetailSerializer, CustomerSerializer
    from customers.models import Customer
    from touchpoints.services import order_record
    from touchpoints.services.orders import OrderLineData

    persona = Persona.objects.create(name="Collector", slug="collector")
    full = make_client(boutique_a, "anna@example.com", identities={"ecommerce": "SHOP-7", "pos": "P-1"},
                       persona=persona, preferences={"sizes": ["38"], "styles": ["classic"]},
                       birth_date=dt.date(1980, 2, 29), phone="+33612345678", city="Paris", country="FR")
    Customer.objects.filter(pk=full.pk).update(advisor=AdvisorFactory(boutique=boutique_a),
                                               advisor_notes="Prefers mornings.")
    consent_record(customer=full, channel="sms", purpose="service", is_granted=True, source="pos",
                   occurred_at=timezone.now())
    order_record(source="pos", external_id="O-1", customer=full, placed_at=timezone.now() - dt.timedelta(days=3),
                 currency="EUR", total="1234.50", lines=[OrderLineData(sku="B", quantity=1, unit_price="1234.50")])
    bare = Customer.objects.create(email="")
    customers = Customer.objects.select_related("home_boutique", "advisor__user", "persona").prefetch_related(
        "identities").filter(pk__in=[full.pk, bare.pk])

    for customer in customers:
        for serializer_class in (CustomerSerializer, CustomerDetailSerializer):
            written_out = serializer_class(customer).data
            generic = serializers.ModelSerializer.to_representation(serializer_class(), customer)
            assert written_out == generic
            assert list(written_out) == list(generic)
    assert CustomerSerializer(customers.get(pk=full.pk)).data["metrics"]["lifetime_value"] == "1234.50"


@pytest.mark.parametrize(("query", "field"), [
    ({"page_size": "abc"}, "page_size"), ({"page_size": "1.5"}, "page_size"), ({"page_size": "0"}, "page_size"),
    ({"page_size": "-1"}, "page_size"), ({"boutique_id": "1.5"}, "boutique_id"), ({"boutique_id": "²"}, "boutique_id"),
    ({"updated_since": "2026-03-01"}, "updated_since"), ({"updated_since": "2026-03-01T10:00:00"}, "updated_since"),
    ({"updated_since": ""}, "updated_since"), ({"customer": ""}, "customer"), ({"boutique_id": ""}, "boutique_id"),
])
def test_a_query_the_schema_refuses_is_a_400_naming_the_parameter(query, field):
    api, _ = key_client(scopes=["customers:read"])

    response = api.get("/api/v1/orders/", query)

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == [field]


def test_a_query_holding_nul_is_a_json_400():
    api, _ = key_client(scopes=["customers:read"])

    response = api.get("/api/v1/orders/", {"external_id": "O\x001"})

    assert (response.status_code, response.json()) == (400, {"message": "The request is malformed.", "extra": {}})


@pytest.mark.parametrize(("path", "query"), [
    ("/api/v1/enrollments/", {"is_active": "null"}), ("/api/v1/advisors/", {"is_active": "yes"}),
    ("/api/v1/touchpoint-types/", {"is_active": ""}),
])
def test_a_yes_no_filter_takes_true_or_false_only(path, query):
    api, _ = key_client(scopes=["customers:read", "journeys:read", "catalogue:read"])

    response = api.get(path, query)

    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["is_active"]


def test_a_page_sent_empty_is_no_page():
    api, _ = key_client(scopes=["customers:read"])

    response = api.get("/api/v1/personas/", {"page": ""})

    assert (response.status_code, response.json()) == (404, {"message": "Invalid page.", "extra": {}})


@pytest.mark.parametrize(
    ("twice", "once", "parameter", "message"),
    [
        ("page_size=2&page_size=500", "page_size=2", "page_size", "Give this parameter once."),
        ("page=1&page=2", "page=1", "page", "Give this parameter once."),
        ("boutique_id={b}&boutique_id={b}", "boutique_id={b}", "boutique_id", "Give this parameter once."),
        ("ordering=last_name&ordering=-last_name", "ordering=last_name", "ordering",
         "Give this parameter once. List several fields with commas."),
    ],
)
def test_a_parameter_sent_twice_is_refused_with_its_name_not_answered_with_the_last(
    boutique_a, head_office, twice, once, parameter, message
):
    for number in range(3):
        make_client(boutique_a, f"c{number}@example.com")
    api = session_client(head_office)

    response = api.get(f"/api/v1/customers/?{twice.format(b=boutique_a.pk)}")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {parameter: [message]}
    assert api.get(f"/api/v1/customers/?{once.format(b=boutique_a.pk)}").status_code == 200


def test_the_timeline_still_takes_several_kinds_but_one_page_size(boutique_a, head_office):
    customer = make_client(boutique_a, "anna@example.com")
    interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=timezone.now(), source="pos",
                       external_id="V-1", boutique=boutique_a)
    api = session_client(head_office)

    response = api.get(f"/api/v1/customers/{customer.public_id}/timeline/?kind=interaction&kind=order")

    assert response.status_code == 200
    assert [entry["item"]["external_id"] for entry in response.json()["results"]] == ["V-1"]
    twice = api.get(f"/api/v1/customers/{customer.public_id}/timeline/?page_size=1&page_size=9")
    assert twice.status_code == 400
    assert twice.json()["extra"]["fields"] == {"page_size": ["Give this parameter once."]}
