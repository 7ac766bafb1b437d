"""The POS sync against a fake Square on 127.0.0.1: full, incremental, replayed, failing and malformed pages."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from customers.models import Customer, CustomerIdentity
from sync.models import SyncCursor, SyncRejection, SyncRun
from sync.services import lock_key, sync_lock, sync_run_execute, sync_start
from tests.sync.conftest import run_sync
from tests.sync.fakes import money, square_order
from touchpoints.models import Interaction, Order, OrderLine

pytestmark = pytest.mark.django_db

LOCATION = "PAR-FSH"


def stamp(minute: int) -> str:
    return f"2026-03-01T10:{minute:02d}:00Z"


def seed(fake_pos, orders: int = 7, visits: int = 2) -> None:
    """`orders` orders of 3 lines at 100.00 for three clients, and `visits` visits, at successive minutes."""
    for number in range(1, 4):
        fake_pos.add_customer(f"C{number}", given_name=f"Client{number}", family_name="Martin",
                              email_address=f"client{number}@example.com")
    for number in range(1, orders + 1):
        fake_pos.add_order(square_order(f"O{number}", customer_id=f"C{(number - 1) % 3 + 1}", location_id=LOCATION,
                                        updated_at=stamp(number)))
    fake_pos.visits = [
        {"id": f"V{number}", "customer_id": "C1", "location_id": LOCATION, "visited_at": stamp(30 + number)}
        for number in range(1, visits + 1)
    ]


def counts(run: SyncRun) -> tuple[int, int, int, int, int]:
    return run.pages, run.created, run.updated, run.unchanged, run.rejected


def test_full_pos_sync_records_every_order_with_its_lines_clients_and_visits(fake_pos, pos_setting, boutique):
    # Given a POS with 7 orders of 3 lines (pages of 3) for 3 clients, and 2 store visits
    seed(fake_pos)

    # When the boutique's sync runs
    run = run_sync(pos_setting, boutique)

    # Then every order, line, client and visit is in Atelier once, and the run says so
    assert run.status == SyncRun.Status.SUCCEEDED
    assert counts(run) == (4, 9, 0, 0, 0)  # 3 order pages + 1 visit page; 7 orders + 2 visits created
    assert Order.objects.count() == 7
    assert OrderLine.objects.count() == 21
    assert Interaction.objects.filter(touchpoint_type__code="purchase").count() == 7
    assert Interaction.objects.filter(touchpoint_type__code="store_visit", boutique=boutique).count() == 2
    assert CustomerIdentity.objects.filter(system="pos").count() == 3
    first = Customer.objects.get(identities__system="pos", identities__external_id="C1")
    assert (first.email, first.first_name, first.home_boutique) == ("client1@example.com", "Client1", boutique)
    # Orders O1, O4, O7 of 300.00 each: the client's metrics follow the orders.
    assert (first.order_count, first.lifetime_value) == (3, Decimal("900.00"))
    order = Order.objects.get(external_id="O1")
    assert (order.source, order.status, order.total, order.currency, order.boutique) == (
        "pos", Order.Status.FULFILLED, Decimal("300.00"), "EUR", boutique)
    assert SyncCursor.objects.get(connector=pos_setting, stream="orders").value == {"since": stamp(7)}


def test_incremental_sync_fetches_only_what_changed_since_the_cursor(fake_pos, pos_setting, boutique):
    # Given a first full sync
    seed(fake_pos)
    run_sync(pos_setting, boutique)
    # and then, on the POS, two new orders and a cancellation of O2
    fake_pos.add_order(square_order("O8", customer_id="C2", location_id=LOCATION, updated_at=stamp(8)))
    fake_pos.add_order(square_order("O9", customer_id="C3", location_id=LOCATION, updated_at=stamp(9)))
    fake_pos.add_order(square_order("O2", customer_id="C2", location_id=LOCATION, updated_at=stamp(10),
                                    created_at=stamp(2), state="CANCELED"))
    searches_before = len([r for r in fake_pos.requests if r[1] == "/v2/orders/search"])

    # When the next sync runs
    run = run_sync(pos_setting, boutique)

    # Then it asks only for what changed since the last order seen (inclusive, so that one comes back unchanged)
    searches = [r[3] for r in fake_pos.requests if r[1] == "/v2/orders/search"][searches_before:]
    assert searches[0]["query"]["filter"]["date_time_filter"]["updated_at"]["start_at"] == stamp(7)
    # O8, O9 created; O2 cancelled; O7 and the last visit come back unchanged
    assert counts(run) == (3, 2, 1, 2, 0)
    assert Order.objects.count() == 9
    assert Order.objects.get(external_id="O2").status == Order.Status.CANCELLED
    assert Customer.objects.get(identities__external_id="C2").order_count == 2  # O5, O8 (O2 cancelled)


def test_replayed_pos_pages_create_no_duplicate_orders(fake_pos, pos_setting, boutique):
    # Given a full sync done
    seed(fake_pos)
    run_sync(pos_setting, boutique)

    # When every page is served again (the cursors lost: a restored backup, a POS replaying its feed)
    SyncCursor.objects.filter(connector=pos_setting).update(value={})
    run = run_sync(pos_setting, boutique)

    # Then nothing is doubled: every record is unchanged
    assert counts(run) == (4, 0, 0, 9, 0)
    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (7, 21, 9)
    assert Customer.objects.get(identities__external_id="C1").order_count == 3


def test_500s_and_timeouts_are_retried_and_the_sync_completes(fake_pos, pos_setting, boutique):
    # Given a POS that fails twice on the first page (500, then no answer in time) and once on the second (503)
    seed(fake_pos)
    fake_pos.timeout_seconds = 2.0
    fake_pos.script("POST /v2/orders/search", 500, "timeout", "ok", 503)

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then each failure was tried again and the sync completed with exact counts
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.retries == 3
    assert counts(run) == (4, 9, 0, 0, 0)
    assert Order.objects.count() == 7


def test_a_429_is_retried_after_the_servers_retry_after(fake_pos, pos_setting, boutique):
    # Given a POS that rate-limits the first page with Retry-After: 1
    seed(fake_pos, orders=2, visits=0)
    fake_pos.script("POST /v2/orders/search", (429, 1))

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the page was asked for twice and recorded once
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.retries, fake_pos.calls("POST /v2/orders/search")) == (1, 2)
    assert Order.objects.count() == 2


def test_retries_are_bounded_and_the_next_run_resumes_at_the_last_page_written(fake_pos, pos_setting, boutique):
    # Given a POS whose second page fails more often than the connector tries (3 attempts)
    seed(fake_pos)
    fake_pos.script("POST /v2/orders/search", "ok", 500, 500, 500)

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the run failed with the reason, keeping the first page's 3 orders and its checkpoint
    assert run.status == SyncRun.Status.FAILED
    assert "answered 500" in run.error
    assert "Gave up after 3 attempts" in run.error
    assert (run.pages, run.created, run.retries) == (1, 3, 2)
    assert Order.objects.count() == 3
    assert SyncCursor.objects.get(connector=pos_setting, stream="orders").value["page"] == "3"

    # When the POS is back and the next run starts
    run = run_sync(pos_setting, boutique)

    # Then it resumes from the checkpoint: the 4 remaining orders and the 2 visits, nothing twice
    assert counts(run) == (3, 6, 0, 0, 0)
    assert (Order.objects.count(), OrderLine.objects.count()) == (7, 21)


@pytest.mark.parametrize(
    ("bad_page", "reason"),
    [
        ("not json", "with a body that is not JSON"),
        ({"orders": {"id": "O4"}, "cursor": "6"}, "orders is not a list"),
        ({"orders": [], "cursor": 6}, "cursor is not a string"),
    ],
)
def test_a_malformed_page_writes_nothing_of_it_and_the_next_run_resumes_there(
    fake_pos, pos_setting, boutique, bad_page, reason
):
    # Given a POS whose second page is unreadable once
    seed(fake_pos)
    fake_pos.script("POST /v2/orders/search", "ok", bad_page)

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the run stops there, failed, with the page logged; the first page's orders are whole, nothing else
    assert run.status == SyncRun.Status.FAILED
    assert reason in run.error
    assert (run.pages, run.created, run.rejected) == (1, 3, 1)
    rejection = SyncRejection.objects.get(run=run)
    assert (rejection.is_page, rejection.stream) == (True, "orders")
    assert (Order.objects.count(), OrderLine.objects.count()) == (3, 9)

    # When the page is readable again and the next run starts
    run = run_sync(pos_setting, boutique)

    # Then it picks up at that page: nothing lost, nothing twice
    assert run.status == SyncRun.Status.SUCCEEDED
    assert counts(run) == (3, 6, 0, 0, 0)
    assert (Order.objects.count(), OrderLine.objects.count()) == (7, 21)


def test_malformed_records_are_rejected_with_their_reason_and_the_page_goes_on(fake_pos, pos_setting, boutique):
    # Given a page holding one good order and five bad ones
    pos_setting.options = {**pos_setting.options, "page_size": 10}
    pos_setting.save()
    fake_pos.add_customer("C1", email_address="client1@example.com")
    good = square_order("GOOD", customer_id="C1", location_id=LOCATION, updated_at=stamp(1))
    no_date = square_order("NO-DATE", customer_id="C1", location_id=LOCATION, updated_at=stamp(2))
    del no_date["created_at"]
    half_item = square_order("HALF", customer_id="C1", location_id=LOCATION, updated_at=stamp(3))
    half_item["line_items"][2]["quantity"] = "1.5"
    text_amount = square_order("TEXT-AMOUNT", customer_id="C1", location_id=LOCATION, updated_at=stamp(4))
    text_amount["line_items"][0]["total_money"]["amount"] = "100"
    anonymous = square_order("ANONYMOUS", customer_id=None, location_id=LOCATION, updated_at=stamp(5))
    unknown_currency = square_order("XXX", customer_id="C1", location_id=LOCATION, updated_at=stamp(6),
                                    currency="XTS")
    for order in (good, no_date, half_item, text_amount, anonymous, unknown_currency):
        fake_pos.add_order(order)
    fake_pos.script("POST /v2/orders/search", {"orders": [good, no_date, half_item, text_amount, anonymous,
                                                          unknown_currency, "not an object"]})

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the good order is written whole, each bad one is logged with its reason, and the sync completed
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.created, run.rejected) == (1, 6)
    reasons = dict(SyncRejection.objects.filter(run=run).values_list("external_id", "reason"))
    assert reasons == {
        "NO-DATE": "created_at: This field is required.",
        "HALF": "line_items[3].quantity: '1.5' is not a whole quantity Atelier records.",
        "TEXT-AMOUNT": "line_items[1].total_money.amount: Expected an integer amount in minor units.",
        "ANONYMOUS": "customer_id: An anonymous sale (no customer_id) belongs to no client.",
        "XXX": "No exchange rate for 'XTS'; known: AED, CHF, CNY, EUR, GBP, HKD, JPY, SGD, USD.",
        "": "The record is not an object.",
    }
    assert SyncRejection.objects.get(run=run, external_id="HALF").record["line_items"][2]["quantity"] == "1.5"
    assert list(Order.objects.values_list("external_id", flat=True)) == ["GOOD"]
    assert OrderLine.objects.count() == 3
    # The client the refused XTS order created in its savepoint was rolled back with it: one client, C1's.
    assert Customer.objects.count() == 1


def test_returns_refunds_and_cancellations_map_onto_order_statuses_and_return_lines(fake_pos, pos_setting, boutique):
    # Given a refunded sale, a return receipt (Square's `returns`) and a cancelled sale, in USD cents
    pos_setting.options = {**pos_setting.options, "page_size": 10}
    pos_setting.save()
    fake_pos.add_customer("C1", email_address="client1@example.com")
    refunded = square_order("SALE", customer_id="C1", location_id=LOCATION, updated_at=stamp(1), lines=2,
                            unit_amount=12550, currency="USD",
                            refunds=[{"id": "R1", "status": "COMPLETED", "amount_money": money(25100, "USD")}])
    receipt = {
        "id": "RETURN", "location_id": LOCATION, "customer_id": "C1", "state": "COMPLETED",
        "created_at": stamp(2), "updated_at": stamp(2),
        "returns": [{"source_order_id": "OTHER", "return_line_items": [
            {"uid": "r1", "catalog_object_id": "SKU-9", "name": "Scarf", "quantity": "2",
             "total_money": money(30000, "USD")},
        ]}],
    }
    cancelled = square_order("CANCELLED", customer_id="C1", location_id=LOCATION, updated_at=stamp(3),
                             state="CANCELED", lines=1)
    for order in (refunded, receipt, cancelled):
        fake_pos.add_order(order)

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then statuses, totals and return lines are as the POS says
    assert (run.created, run.rejected) == (3, 0)
    orders = {order.external_id: order for order in Order.objects.all()}
    assert (orders["SALE"].status, orders["SALE"].total, orders["SALE"].currency) == (
        Order.Status.RETURNED, Decimal("251.00"), "USD")
    assert (orders["RETURN"].total, orders["CANCELLED"].status) == (Decimal("-300.00"), Order.Status.CANCELLED)
    line = OrderLine.objects.get(order=orders["RETURN"])
    assert (line.sku, line.quantity, line.unit_price, line.is_return) == ("SKU-9", -2, Decimal("150.00"), True)
    assert sorted(Interaction.objects.values_list("touchpoint_type__code", "external_id")) == [
        ("purchase", "order:CANCELLED"), ("purchase", "order:SALE"), ("return", "order:RETURN"),
        ("return", "order:SALE:returned"),
    ]


def test_order_entries_that_carry_only_an_id_are_fetched_whole(fake_pos, pos_setting, boutique):
    # Given a search answer that lists order entries by id only (as an order.created event does)
    fake_pos.add_customer("C1", email_address="client1@example.com")
    fake_pos.add_order(square_order("O1", customer_id="C1", location_id=LOCATION, updated_at=stamp(1)))
    fake_pos.script("POST /v2/orders/search", {"order_entries": [
        {"order_id": "O1", "location_id": LOCATION}, {"order_id": "GONE", "location_id": LOCATION}]})

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the order is fetched with BatchRetrieveOrders and recorded; the one the POS no longer has is logged
    assert fake_pos.calls("POST /v2/orders/batch-retrieve") == 1
    assert (run.created, run.rejected) == (1, 1)
    assert SyncRejection.objects.get(run=run).external_id == "GONE"
    assert OrderLine.objects.filter(order__external_id="O1").count() == 3


def test_only_one_sync_per_connector_and_boutique_runs_at_a_time(fake_pos, pos_setting, boutique):
    # Given a run under way: another session holds its lock (as a worker working on it does)
    seed(fake_pos)
    run, started = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)
    settings_dict = connection.settings_dict
    other = psycopg.connect(host=settings_dict["HOST"], port=settings_dict["PORT"] or 5432,
                            user=settings_dict["USER"], dbname=settings_dict["NAME"], autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [lock_key(pos_setting.pk, boutique.pk)])

        # When a second start is asked for, and a second task works on the run
        again, started_again = sync_start(setting=pos_setting, boutique=boutique, trigger=SyncRun.Trigger.MANUAL)
        outcome = sync_run_execute(run_id=run.pk)
    finally:
        other.close()

    # Then the second start is the first run, and the second task did nothing: no request, no write
    assert (started, started_again, again.pk) == (True, False, run.pk)
    assert outcome == "locked"
    assert fake_pos.requests == []
    assert SyncRun.objects.count() == 1
    assert Order.objects.count() == 0

    # When the lock is free (the first worker's session ended), the run goes through once
    assert sync_run_execute(run_id=run.pk) == SyncRun.Status.SUCCEEDED
    assert Order.objects.count() == 7


def test_a_missing_secret_fails_the_run_naming_the_variable(fake_pos, pos_setting, boutique, monkeypatch):
    # Given the token's environment variable is not set
    seed(fake_pos)
    monkeypatch.delenv("TEST_POS_TOKEN")

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then it fails before any request, naming the variable (never a value)
    assert run.status == SyncRun.Status.FAILED
    assert run.error == (
        "The environment variable TEST_POS_TOKEN is not set: the connector 'Square Paris' has no access token."
    )
    assert fake_pos.requests == []


def test_a_4xx_on_a_page_is_not_retried(fake_pos, pos_setting, boutique):
    # Given a POS refusing the token
    seed(fake_pos)
    fake_pos.script("POST /v2/orders/search", 401)

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then it fails at once with the answer, without retrying
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("orders: POST /v2/orders/search answered 401")
    assert (run.retries, fake_pos.calls("POST /v2/orders/search")) == (0, 1)
    assert Order.objects.count() == 0


def test_a_pos_that_hands_back_the_same_cursor_stops_the_run_instead_of_looping(fake_pos, pos_setting, boutique):
    # Given a POS whose second page says "more after cursor 3", the cursor it was asked with
    seed(fake_pos)
    fake_pos.script("POST /v2/orders/search", "ok", {"orders": [], "cursor": "3"})

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the run stops failed after the first page, and the POS was asked twice, not forever
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "orders: the POS or CRM returned the same cursor again."
    assert (run.pages, run.created, fake_pos.calls("POST /v2/orders/search")) == (1, 3, 2)


@pytest.mark.parametrize("notifies_journeys", [True, False])
def test_a_backfill_that_does_not_notify_the_journeys_records_history_and_moves_nobody(
    fake_pos, pos_setting, boutique, notifies_journeys, django_capture_on_commit_callbacks
):
    from journeys.models import Enrollment

    # Given orders in the POS, and a connector set to notify the journey rules or not (a historical backfill)
    seed(fake_pos, visits=0)
    pos_setting.notifies_journeys = notifies_journeys
    pos_setting.save(update_fields=["notifies_journeys"])

    # When the sync runs and its pages commit
    with django_capture_on_commit_callbacks(execute=True):
        run = run_sync(pos_setting, boutique)

    # Then the orders land either way; only a notifying sync moves the clients through the lifecycle
    assert (run.status, run.created, Order.objects.count()) == (SyncRun.Status.SUCCEEDED, 7, 7)
    stages = sorted(Enrollment.objects.filter(journey__slug="client-lifecycle").values_list("stage__key", flat=True))
    assert stages == (["loyalty", "loyalty", "loyalty"] if notifies_journeys else [])


def three_orders_of_new_clients(fake_pos, pos_setting) -> None:
    pos_setting.options = {**pos_setting.options, "page_size": 10}
    pos_setting.save()
    for number in range(1, 4):
        fake_pos.add_customer(f"C{number}", email_address=f"client{number}@example.com")
        fake_pos.add_order(square_order(f"O{number}", customer_id=f"C{number}", location_id=LOCATION,
                                        updated_at=stamp(number)))


def test_a_4xx_for_one_client_of_a_page_refuses_that_clients_order_only(fake_pos, pos_setting, boutique):
    # Given a page of three orders of three new clients, and a POS that refuses any batch naming C2
    three_orders_of_new_clients(fake_pos, pos_setting)
    fake_pos.refused_ids = {"C2"}

    # When the sync runs
    run = run_sync(pos_setting, boutique)

    # Then the refused batch is split until the one client it refuses is found; the other orders are written
    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.created, run.rejected) == (2, 1)
    rejection = SyncRejection.objects.get(run=run)
    assert (rejection.external_id, rejection.reason) == (
        "O2", "customer_id: The POS refused the client's profile: POST /v2/customers/bulk-retrieve answered 400: "
              '{"errors": [{"code": "INVALID_VALUE", "detail": "malformed id"}]}',
    )
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["O1", "O3"]
    assert fake_pos.calls("POST /v2/customers/bulk-retrieve") == 5  # [C1 C2 C3], [C1], [C2 C3], [C2], [C3]
    assert SyncCursor.objects.get(stream="orders").value == {"since": stamp(3)}


def test_a_4xx_for_an_order_fetched_whole_refuses_that_order_only(fake_pos, pos_setting, boutique):
    # Given a page of two id-only entries, one of which the POS refuses to return
    pos_setting.options = {**pos_setting.options, "page_size": 10}
    pos_setting.save()
    fake_pos.add_customer("C1", email_address="client1@example.com")
    for number in (1, 2):
        fake_pos.add_order(square_order(f"O{number}", customer_id="C1", location_id=LOCATION,
                                        updated_at=stamp(number)))
    fake_pos.script("POST /v2/orders/search", {"order_entries": [{"order_id": "O1"}, {"order_id": "O2"}]})
    fake_pos.refused_ids = {"O2"}

    run = run_sync(pos_setting, boutique)

    assert (run.status, run.created, run.rejected) == (SyncRun.Status.SUCCEEDED, 1, 1)
    assert SyncRejection.objects.get(run=run).external_id == "O2"
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O1"]


@pytest.mark.parametrize("answers", [(401,), (403,), (400, 400, 400, 400, 400)],
                         ids=["refused token", "forbidden", "every client refused alone too"])
def test_a_4xx_that_is_not_about_one_record_still_fails_the_run_and_writes_nothing(
    fake_pos, pos_setting, boutique, answers
):
    # Given a POS that refuses the token, or refuses every client even one at a time (not about one record)
    three_orders_of_new_clients(fake_pos, pos_setting)
    fake_pos.script("POST /v2/customers/bulk-retrieve", *answers)

    run = run_sync(pos_setting, boutique)

    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith(f"orders: POST /v2/customers/bulk-retrieve answered {answers[0]}")
    assert (Order.objects.count(), SyncRejection.objects.count()) == (0, 0)
    assert SyncCursor.objects.get(stream="orders").value == {}


def test_the_session_holding_a_sync_lock_is_dropped_within_a_minute_of_its_machine_going_silent(pos_setting):
    # A worker whose machine vanishes (no FIN, no RST) would otherwise keep its session, and so the sync's lock, for
    # PostgreSQL's default two hours of TCP keepalive: beat's sweep would queue the run again, in vain.
    with sync_lock(pos_setting.pk, None) as acquired, connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'), "
                       "current_setting('tcp_keepalives_count'), current_setting('tcp_user_timeout')")
        assert acquired
        assert cursor.fetchone() == ("20", "10", "3", "60000")  # silent for 20 + 3 × 10 s: dropped, lock released
