"""The CRM sync, both ways, against a fake CRM on 127.0.0.1: pull, push, and conflicts decided by the field
ownership table (customers.services.external.FIELD_OWNERS)."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import ConsentEvent, Customer
from customers.services import consent_record, customer_update
from sync.models import SyncRejection, SyncRun
from tests.sync.conftest import run_sync

pytestmark = pytest.mark.django_db

# The CRM's timestamps: long before any change made in Atelier by these tests, and long after.
OLD, OLDER_CHANGE = "1999-01-01T00:00:00Z", "2000-01-01T00:00:00Z"
# Later than the test's changes in Atelier, yet a moment that may have happened (core.moments: at most a day ahead).
FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def crm_client(fake_crm, client_id: str, *, updated_at: str, **fields) -> None:
    values = {
        "first_name": "Anne", "last_name": "Durand", "email": f"{client_id.lower()}@example.com",
        "phone": "+33612345678" if client_id == "K1" else "+33687654321", "language": "fr",
        "birth_date": "1980-02-29", "address": {"line1": "1 rue de la Paix", "city": "Paris", "country": "FR"},
        "consents": [{"channel": "email", "purpose": "marketing", "granted": True, "updated_at": OLD}],
    }
    fake_crm.put_client(client_id, updated_at=updated_at, **{**values, **fields})


def client(external_id: str) -> Customer:
    return Customer.objects.get(identities__system="crm", identities__external_id=external_id)


def test_pull_creates_the_clients_and_pushes_nothing_back(fake_crm, crm_setting):
    # Given two clients in the CRM
    crm_client(fake_crm, "K1", updated_at=OLD)
    crm_client(fake_crm, "K2", updated_at=OLD)

    # When the CRM sync runs
    run = run_sync(crm_setting)

    # Then both are clients in Atelier with their CRM identity and consent, and nothing went back to the CRM
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.pages, run.created, run.updated, run.unchanged, run.rejected) == (2, 2, 0, 0, 0)
    anne = client("K1")
    assert (anne.first_name, anne.last_name, anne.email, anne.phone, anne.city, anne.country) == (
        "Anne", "Durand", "k1@example.com", "+33612345678", "Paris", "FR")
    assert (anne.birth_date, anne.language, anne.consent) == (dt.date(1980, 2, 29), "fr", {"email_marketing": True})
    assert ConsentEvent.objects.filter(customer=anne, source="crm").count() == 1
    assert fake_crm.patches == []

    # When it runs again with nothing new
    run = run_sync(crm_setting)

    # Then the clients come back unchanged (the cursor is inclusive) and still nothing is pushed
    assert (run.created, run.updated, run.unchanged) == (0, 0, 2)
    assert fake_crm.patches == []


def test_a_push_with_conflicts_resolved_by_the_ownership_table(fake_crm, crm_setting):
    # Given two clients pulled from the CRM
    crm_client(fake_crm, "K1", updated_at=OLD)
    crm_client(fake_crm, "K2", updated_at=OLD)
    run_sync(crm_setting)
    anne, bea = client("K1"), client("K2")
    # and changed in Atelier since: names, notes, preferences, phone, language, a consent withdrawn
    customer_update(customer=anne, changes={"last_name": "Durand-Atelier", "advisor_notes": "Prefers silk",
                                            "preferences": {"categories": ["scarves"]}, "phone": "+33698765432"})
    customer_update(customer=bea, changes={"language": "en"})
    consent_record(customer=anne, channel="sms", purpose="marketing", is_granted=True,
                   occurred_at=dt.datetime.now(dt.UTC), source="atelier")
    # and in the CRM: K1 changed in 2000 (before the Atelier changes), K2 an hour from now (after), withdrawing consent
    crm_client(fake_crm, "K1", updated_at=OLDER_CHANGE, last_name="Durand-Lefèvre", phone="+33611223344")
    crm_client(fake_crm, "K2", updated_at=FUTURE, language="de", consents=[
        {"channel": "email", "purpose": "marketing", "granted": False, "updated_at": FUTURE}])

    # When the CRM sync runs
    run = run_sync(crm_setting)

    # Then the CRM's legal name wins whatever the time; the older CRM phone loses to Atelier's newer one
    anne.refresh_from_db()
    assert (anne.last_name, anne.phone) == ("Durand-Lefèvre", "+33698765432")
    # and Atelier's notes and preferences stay (Atelier owns them)
    assert (anne.advisor_notes, anne.preferences) == ("Prefers silk", {"categories": ["scarves"]})
    # the newer CRM language wins over Atelier's older change, and its consent withdrawal is recorded
    bea.refresh_from_db()
    assert (bea.language, bea.consent) == ("de", {"email_marketing": False})
    assert (run.created, run.updated, run.rejected) == (0, 3, 0)  # 2 clients pulled and changed, 1 pushed
    # and only what Atelier owns or keeps went to the CRM: for K1, never the name, nothing of K2's CRM changes
    assert [(client_id, fields) for client_id, fields, _ in fake_crm.patches] == [
        ("K1", {"consents": [{"channel": "sms", "purpose": "marketing", "granted": True}],
                "notes": "Prefers silk", "preferences": {"categories": ["scarves"]}}),
    ]
    assert fake_crm.patches[0][2]  # sent with an Idempotency-Key

    # When the sync runs again with nothing new on either side
    run = run_sync(crm_setting)

    # Then nothing is pushed twice and nothing changes
    assert len(fake_crm.patches) == 1
    assert (run.created, run.updated, run.rejected) == (0, 0, 0)


def test_a_client_the_crm_refuses_is_logged_and_the_others_are_pushed(fake_crm, crm_setting):
    # Given three pulled clients, each with a new note in Atelier, and a CRM that refuses edits of K2
    for client_id in ("K1", "K2", "K3"):
        crm_client(fake_crm, client_id, updated_at=OLD, phone=None)
    run_sync(crm_setting)
    for client_id in ("K1", "K2", "K3"):
        customer_update(customer=client(client_id), changes={"advisor_notes": f"Note for {client_id}"})
    fake_crm.refused["K2"] = 409

    # When the CRM sync runs
    run = run_sync(crm_setting)

    # Then K1 and K3 are pushed, K2 is logged with the CRM's answer, and the run completed
    assert run.status == SyncRun.Status.SUCCEEDED
    assert [client_id for client_id, _, _ in fake_crm.patches] == ["K1", "K3"]
    rejection = SyncRejection.objects.get(run=run)
    assert (rejection.stream, rejection.external_id) == ("push", "K2")
    assert rejection.reason.startswith("The CRM refused the changes: PATCH /api/clients/K2 answered 409")
    assert (run.updated, run.rejected) == (2, 1)


def test_a_client_the_crm_refused_is_not_sent_again_until_the_client_changes(fake_crm, crm_setting):
    # Given a client the CRM refused (its edits are locked there)
    crm_client(fake_crm, "K1", updated_at=OLD, phone=None)
    run_sync(crm_setting)
    customer_update(customer=client("K1"), changes={"advisor_notes": "Prefers silk"})
    fake_crm.refused["K1"] = 409
    first = run_sync(crm_setting)
    assert (first.rejected, fake_crm.calls("PATCH /api/clients/{id}")) == (1, 1)

    # When the sync runs again, the client unchanged
    again = run_sync(crm_setting)

    # Then the refused changes are not sent again, nor logged again
    assert (again.status, again.updated, again.rejected) == (SyncRun.Status.SUCCEEDED, 0, 0)
    assert fake_crm.calls("PATCH /api/clients/{id}") == 1

    # And once the client changes again (and the CRM accepts edits), the new changes go
    del fake_crm.refused["K1"]
    customer_update(customer=client("K1"), changes={"advisor_notes": "Prefers silk and cashmere"})
    after_change = run_sync(crm_setting)
    assert (after_change.updated, after_change.rejected) == (1, 0)
    assert [client_id for client_id, _, _ in fake_crm.patches] == ["K1"]
    assert fake_crm.patches[0][1] == {"notes": "Prefers silk and cashmere"}
    assert run_sync(crm_setting).updated == 0  # accepted: nothing pending


def test_malformed_crm_clients_are_rejected_and_a_malformed_page_stops_the_run(fake_crm, crm_setting):
    # Given a CRM page with one good client and three bad ones, and then an unreadable page
    crm_client(fake_crm, "K1", updated_at=OLD)
    fake_crm.script("GET /api/clients", {"clients": [
        fake_crm.clients["K1"],
        {"id": "K2", "updated_at": "yesterday"},
        {"id": "K3", "updated_at": OLD, "email": "not an address"},
        {"id": "K4", "updated_at": OLD, "consents": [{"channel": "pigeon", "purpose": "marketing",
                                                      "granted": True, "updated_at": OLD}]},
    ], "next_cursor": "4"}, {"clients": "none", "next_cursor": None})

    # When the CRM sync runs
    run = run_sync(crm_setting)

    # Then the good client is written, each bad one logged with its reason, and the unreadable page stops the run
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "clients: GET /api/clients: the page has no list of clients."
    assert (run.pages, run.created, run.rejected) == (1, 1, 4)
    reasons = dict(SyncRejection.objects.filter(run=run, is_page=False).values_list("external_id", "reason"))
    assert reasons == {
        "K2": "updated_at: 'yesterday' is not an ISO 8601 date and time.",
        "K3": "'not an address' is not a valid email address.",
        "K4": "consents[1].channel: Unknown channel 'pigeon'.",
    }
    assert list(Customer.objects.values_list("identities__external_id", flat=True)) == ["K1"]
