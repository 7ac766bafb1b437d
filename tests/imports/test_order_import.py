"""Importing order files (one row per order line): the boutiques' Latin-1 POS export with returns, cancellations and
broken orders of every kind; refusals, valid rows only, dry runs, re-imports, rollback, the export round trip, and
a generated legacy file checked against what its generator says it holds."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from bench.generator import generate
from bench.legacy_files import write_customer_file, write_order_file
from core.errors import ApplicationError
from customers.models import Customer, ValueTier
from customers.services import customer_upsert
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportChange
from imports.services import import_file, import_rollback
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, Transition
from tests.factories import AdvisorFactory, BoutiqueFactory, ProductFactory, UserFactory
from touchpoints.models import Interaction, Order, OrderLine
from touchpoints.services import OrderLineData, order_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
POS_ORDERS = FIXTURES / "pos_orders_latin1_semicolon.csv"
POS_MAPPING = FIXTURES / "mapping_pos_orders.yaml"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ALL_COUNTS = {"new": 6, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 6}

pytestmark = pytest.mark.django_db
CustomerHistory = apps.get_model("customers", "CustomerHistory")


@pytest.fixture
def house():
    paris = BoutiqueFactory(code="PAR-FSH", name="Paris Faubourg", country="FR", timezone="Europe/Paris",
                            currency="EUR")
    cannes = BoutiqueFactory(code="CAN-CRO", name="Cannes Croisette", country="FR", timezone="Europe/Paris",
                             currency="EUR")
    london = BoutiqueFactory(code="LON-BND", name="London Bond Street", country="GB", timezone="Europe/London",
                             currency="GBP")
    claire = AdvisorFactory(user=UserFactory(username="claire", email="claire.martin@maison.example"), boutique=paris)
    helene = customer_upsert(source="crm", external_id="CRM-1", email="helene@example.fr").customer
    marc = customer_upsert(source="crm", external_id="CRM-2", email="marc@example.fr").customer
    anna = customer_upsert(source="ecommerce", external_id="W-7", email="anna.schmidt@example.de").customer
    bag = ProductFactory(sku="SAC-01", name="Sac Cœur", category="Maroquinerie", price=Decimal("2450.00"))
    ProductFactory(sku="FOU-02", name="Foulard", category="Accessoires", price=Decimal("320.00"))
    return {"paris": paris, "cannes": cannes, "london": london, "claire": claire, "helene": helene, "marc": marc,
            "anna": anna, "bag": bag}


def import_pos(**options) -> ImportBatch:
    return import_file(
        kind="orders", source=options.pop("source", POS_ORDERS), file_name="pos.csv",
        mapping=ColumnMapping.from_file(POS_MAPPING), **options,
    )


def table_counts() -> dict[str, int]:
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "interactions": Interaction.objects.count(),
        "changes": ImportChange.objects.count(),
        "history": CustomerHistory.objects.count(),
    }


def order(external_id: str) -> Order:
    return Order.objects.get(source="pos", external_id=external_id)


def errors_of(batch: ImportBatch) -> list[tuple[int, str, str]]:
    return [(error.line, error.column, error.message) for error in batch.row_errors.order_by("line", "pk")]


EXPECTED_ERRORS = [
    (13, "Total ticket", "The lines add up to 2770.00, not 3000.00."),
    (14, "Total ticket", "The lines add up to 2770.00, not 3000.00."),
    (15, "", "Order pos:T-1008 is not imported: its line 16 is invalid."),
    (16, "Qté", "Negative quantity -1 on a line that is not a return."),
    (17, "Code client", "No client answers to crm id CRM-999; import the clients first."),
    (18, "Boutique", "No boutique has the code LYO-BEL."),
    (19, "Date", "31/02/2024 17:00 is not a date (day 31 of month 2)."),
    (20, "", "This row has 1 cell(s) more than the header has columns ('emballage cadeau'); a delimiter inside a cell "
             "was probably not quoted."),
]


def test_pos_export_imports_orders_returns_and_cancellations_valid_only(house):
    batch = import_pos(valid_only=True)

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == ALL_COUNTS
    assert (batch.encoding, batch.delimiter, batch.total_rows) == ("cp1252", ";", 18)
    assert errors_of(batch) == EXPECTED_ERRORS
    assert sorted(Order.objects.values_list("external_id", "status", "total")) == [
        ("T-1001", "fulfilled", Decimal("2770.00")),
        ("T-1002", "fulfilled", Decimal("2130.00")),
        ("T-1003", "cancelled", Decimal("890.00")),
        ("T-1004", "returned", Decimal("1250.00")),
        ("T-1005", "fulfilled", Decimal("-320.00")),
        ("T-1006", "fulfilled", Decimal("1100.00")),
    ]
    first = order("T-1001")
    assert (first.customer, first.boutique, first.advisor, first.channel, first.currency) == (
        house["helene"], house["paris"], house["claire"], "boutique", "EUR"
    )
    assert first.placed_at == dt.datetime(2024, 3, 7, 14, 5, tzinfo=PARIS)
    assert [(line.line_number, line.sku, line.product, line.product_name, line.quantity, line.unit_price)
            for line in first.lines.all()] == [
        (1, "SAC-01", house["bag"], "Sac « Cœur » cuir grainé", 1, Decimal("2450.00")),
        (2, "FOU-02", house["bag"].__class__.objects.get(sku="FOU-02"), "Foulard soie imprimé", 1, Decimal("320.00")),
    ]
    assert [(line.quantity, line.is_return) for line in order("T-1002").lines.all()] == [(1, False), (-1, True)]
    london = order("T-1006")
    # Local time of the London boutique; an unknown SKU is kept as sent, without a product.
    assert london.placed_at == dt.datetime(2024, 3, 15, 11, 30, tzinfo=dt.UTC)
    assert (london.customer, london.total_house) == (house["anna"], Decimal("1287.00"))
    assert [(line.sku, line.product_id, line.quantity) for line in london.lines.all()] == [
        ("PAR-05", None, 2), ("ECH-99", None, 1)
    ]
    # The timeline order_record makes: a purchase per order, a return receipt as a return, a full return twice.
    timeline = sorted(Interaction.objects.values_list("external_id", "touchpoint_type__code", "amount",
                                                      "customer_id"))
    assert timeline == [
        ("order:T-1001", "purchase", Decimal("2770.00"), house["helene"].pk),
        ("order:T-1002", "purchase", Decimal("2130.00"), house["helene"].pk),
        ("order:T-1003", "purchase", Decimal("890.00"), house["marc"].pk),
        ("order:T-1004", "purchase", Decimal("1250.00"), house["marc"].pk),
        ("order:T-1004:returned", "return", Decimal("1250.00"), house["marc"].pk),
        ("order:T-1005", "return", Decimal("320.00"), house["helene"].pk),
        ("order:T-1006", "purchase", Decimal("1100.00"), house["anna"].pk),
    ]
    assert Interaction.objects.get(external_id="order:T-1003").metadata == {"status": "cancelled"}
    assert batch.changes.filter(action=ImportChange.Action.CREATED).count() == 6
    assert [row["line"] for row in batch.preview["new"]] == [2, 4, 6, 7, 8]
    assert batch.preview["new"][0]["order"] == "pos:T-1001"
    assert batch.preview["skipped"][0]["line"] == 12
    assert "per order" in batch.preview["counted_as"]


def test_metrics_of_the_clients_follow_the_imported_orders(house):
    import_pos(valid_only=True)

    helene, marc, anna = (Customer.objects.get(pk=house[name].pk) for name in ("helene", "marc", "anna"))
    # 2770 + 2130 - 320; the return receipt is not an order.
    assert (helene.lifetime_value, helene.order_count, helene.value_tier) == (
        Decimal("4580.00"), 2, ValueTier.CLIENT
    )
    assert helene.first_order_at == dt.datetime(2024, 3, 7, 14, 5, tzinfo=PARIS)
    assert helene.last_interaction_at == dt.datetime(2024, 3, 20, 9, 30, tzinfo=PARIS)
    # Cancelled and wholly returned orders count for nothing.
    assert (marc.lifetime_value, marc.order_count, marc.value_tier) == (Decimal("0.00"), 0, ValueTier.PROSPECT)
    assert (anna.lifetime_value, anna.order_count) == (Decimal("1287.00"), 1)
    history = CustomerHistory.objects.filter(pgh_obj_id=helene.pk).order_by("pgh_id").select_related("pgh_context")
    assert history.last().value_tier == ValueTier.CLIENT
    assert history.last().pgh_context.metadata["source"] == "import"


def test_an_invalid_order_refuses_the_file_and_nothing_is_written(house):
    before = table_counts()
    customers_before = list(Customer.objects.order_by("pk").values_list("lifetime_value", "last_interaction_at"))

    batch = import_pos()

    assert batch.status == ImportBatch.Status.REJECTED
    assert batch.counts == ALL_COUNTS
    assert errors_of(batch) == EXPECTED_ERRORS
    assert table_counts() == before
    assert list(Customer.objects.order_by("pk").values_list("lifetime_value", "last_interaction_at")) == (
        customers_before
    )


def test_dry_run_writes_nothing_and_previews_per_order(house):
    before = table_counts()

    batch = import_pos(dry_run=True, valid_only=True)

    assert batch.status == ImportBatch.Status.PREVIEWED
    assert batch.counts == ALL_COUNTS
    assert table_counts() == before
    assert batch.preview["headers"][:3] == ["Source", "N° ticket", "Code client"]
    invalid = batch.preview["invalid"][0]
    assert (invalid["line"], invalid["order"], invalid["lines"], invalid["column"]) == (13, "pos:T-1007", 2,
                                                                                       "Total ticket")


def test_a_second_import_of_the_same_file_changes_nothing(house):
    import_pos(valid_only=True)
    before = table_counts()
    updated_at = dict(Order.objects.values_list("pk", "updated_at"))

    batch = import_pos(valid_only=True)

    assert batch.counts == {"new": 0, "updated": 0, "unchanged": 6, "skipped": 1, "invalid": 6}
    assert table_counts() == before
    assert dict(Order.objects.values_list("pk", "updated_at")) == updated_at
    assert not batch.changes.exists()


def corrected(tmp_path: Path) -> Path:
    """The POS file again, T-1007's total corrected, T-1001 now returned, T-1002 without its return line."""
    text = POS_ORDERS.read_bytes().decode("cp1252")
    lines = text.split("\r\n")
    lines[12] = lines[12].replace("3\xa0000,00", "2\xa0770,00")
    lines[13] = lines[13].replace("3\xa0000,00", "2\xa0770,00")
    lines[1] = lines[1].replace("fulfilled", "returned")
    lines[2] = lines[2].replace("fulfilled", "returned")
    lines[3] = lines[3].replace("2\xa0130,00", "2\xa0450,00")
    del lines[4]
    path = tmp_path / "corrected.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    return path


def test_a_corrected_re_import_fixes_only_the_corrected_orders_with_order_records_semantics(house, tmp_path):
    first = import_pos(valid_only=True)
    bag_order = order("T-1002")

    batch = import_pos(source=corrected(tmp_path), valid_only=True)

    assert batch.counts == {"new": 1, "updated": 2, "unchanged": 4, "skipped": 1, "invalid": 5}
    assert {row["order"]: row["fields"] for row in batch.preview["updated"]} == {
        "pos:T-1001": ["status"], "pos:T-1002": ["total", "total_house", "lines"],
    }
    assert order("T-1001").status == "returned"
    assert Interaction.objects.filter(order=order("T-1001")).count() == 2  # its purchase, then its return
    assert [(line.sku, line.quantity) for line in bag_order.lines.all()] == [("SAC-01", 1)]
    assert order("T-1007").total == Decimal("2770.00")
    helene = Customer.objects.get(pk=house["helene"].pk)
    assert (helene.lifetime_value, helene.order_count) == (Decimal("4900.00"), 2)  # 2450 + 2770 - 320
    assert first.status == ImportBatch.Status.IMPORTED


def test_rollback_removes_created_orders_and_restores_updated_ones(house, tmp_path):
    import_pos(valid_only=True)
    before = table_counts()
    lines_before = list(OrderLine.objects.order_by("order_id", "line_number").values_list(
        "order_id", "line_number", "sku", "product_id", "product_name", "quantity", "unit_price", "is_return"))
    metrics_before = list(Customer.objects.order_by("pk").values_list("lifetime_value", "order_count", "value_tier",
                                                                      "last_interaction_at"))
    orders_before = list(Order.objects.order_by("pk").values_list("status", "total", "total_house", "customer_id"))
    batch = import_pos(source=corrected(tmp_path), valid_only=True)

    import_rollback(batch=batch)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.ROLLED_BACK
    assert {name: count for name, count in table_counts().items() if name not in ("changes", "history")} == {
        name: count for name, count in before.items() if name not in ("changes", "history")
    }
    assert list(Order.objects.order_by("pk").values_list("status", "total", "total_house", "customer_id")) == (
        orders_before
    )
    assert list(OrderLine.objects.order_by("order_id", "line_number").values_list(
        "order_id", "line_number", "sku", "product_id", "product_name", "quantity", "unit_price", "is_return"
    )) == lines_before
    assert list(Customer.objects.order_by("pk").values_list("lifetime_value", "order_count", "value_tier",
                                                            "last_interaction_at")) == metrics_before


def test_rollback_of_the_first_import_leaves_no_order(house):
    batch = import_pos(valid_only=True)

    import_rollback(batch=batch)

    assert (Order.objects.count(), OrderLine.objects.count(), Interaction.objects.count()) == (0, 0, 0)
    helene = Customer.objects.get(pk=house["helene"].pk)
    assert (helene.lifetime_value, helene.order_count, helene.last_interaction_at) == (Decimal("0.00"), 0, None)


def test_rollback_is_refused_when_a_follow_up_was_attributed_to_an_imported_order(house):
    batch = import_pos(valid_only=True)
    template = FollowUpTemplate.objects.create(name="Thank you", channel=FollowUpTemplate.Channel.EMAIL)
    FollowUp.objects.create(
        customer=house["helene"], template=template, channel=template.channel,
        due_at=dt.datetime(2024, 4, 1, tzinfo=dt.UTC), idempotency_key="thank-you", attributed_order=order("T-1001"),
    )

    with pytest.raises(ApplicationError, match="follow-ups"):
        import_rollback(batch=batch)
    assert Order.objects.count() == 6
    assert FollowUp.objects.get().attributed_order == order("T-1001")


def test_an_orders_lines_apart_in_the_file_are_refused_naming_both_lines(house, tmp_path):
    path = tmp_path / "apart.csv"
    header = ["source", "order_id", "crm_id", "placed_at", "status", "currency", "order_total", "line_number", "sku",
              "quantity", "unit_price", "is_return"]
    rows = [
        ["pos", "A-1", "CRM-1", "2024-03-07 10:00", "fulfilled", "EUR", "300.00", "1", "X-1", "1", "100.00", "0"],
        ["pos", "A-2", "CRM-2", "2024-03-07 11:00", "fulfilled", "EUR", "50.00", "1", "X-2", "1", "50.00", "0"],
        ["pos", "A-1", "CRM-1", "2024-03-07 10:00", "fulfilled", "EUR", "300.00", "2", "X-3", "1", "200.00", "0"],
        ["pos", "A-1", "CRM-1", "2024-03-07 10:00", "fulfilled", "EUR", "300.00", "1", "X-1", "1", "100.00", "0"],
    ]
    with open(path, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([header, *rows])

    batch = import_file(kind="orders", source=path, file_name="apart.csv", valid_only=True)

    # Line 5 repeats line 2 exactly: skipped. Line 4 is A-1 again after A-2.
    assert batch.counts == {"new": 1, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 2}
    assert errors_of(batch)[-1] == (
        4, "order_id", "Order pos:A-1 appears again at line 4, apart from its lines from line 2; the lines of one "
        "order must be next to each other in the file.",
    )
    assert errors_of(batch)[0][:2] == (2, "order_total")  # A-1's first part alone does not add up: refused
    assert list(Order.objects.values_list("external_id", flat=True)) == ["A-2"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(house, tmp_path, fmt):
    import_pos(valid_only=True)
    # An order recorded by the service, with a return receipt of another client and an apostrophe-escaped SKU.
    order_record(source="ecommerce", external_id="W-1", customer=house["anna"], placed_at=dt.datetime(
        2024, 4, 1, 12, tzinfo=dt.UTC), currency="EUR", total="-99.50", channel="web",
        lines=[OrderLineData(sku="=CALC", quantity=-1, unit_price="99.50", is_return=True)])
    path = tmp_path / f"orders.{fmt}"
    call_command("export_data", "orders", str(path), stdout=io.StringIO())
    before = table_counts()

    batch = import_file(kind="orders", source=path, file_name=path.name)

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == {"new": 0, "updated": 0, "unchanged": 7, "skipped": 0, "invalid": 0}
    assert table_counts() == before


def test_the_command_line_imports_orders_and_says_counts_are_per_order(house, capsys):
    with pytest.raises(CommandError) as refused:
        call_command("import_legacy", "orders", str(POS_ORDERS), "--mapping", str(POS_MAPPING), "--valid-only")

    assert refused.value.returncode == 1
    output = capsys.readouterr().out
    assert "new: 6  updated: 0  unchanged: 0  skipped: 1  invalid: 6" in output
    assert "per order" in output
    assert Order.objects.count() == 6


def test_a_generated_legacy_order_file_imports_as_its_generator_counted(tmp_path):
    generate(customers=0, seed=7, password="test-only-password-2026")  # the demo house: boutiques, advisors …
    clients = write_customer_file(tmp_path / "clients.csv", rows=600, seed=7)
    client_batch = import_file(kind="customers", source=tmp_path / "clients.csv", file_name="clients.csv",
                               valid_only=True)
    assert client_batch.status == ImportBatch.Status.IMPORTED
    stats = write_order_file(tmp_path / "orders.csv", lines=3_000, seed=7, customers=clients.persons)

    batch = import_file(kind="orders", source=tmp_path / "orders.csv", file_name="orders.csv", valid_only=True)

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == {
        "new": stats.expected_orders, "updated": 0, "unchanged": 0, "skipped": stats.duplicates["exact"],
        "invalid": sum(stats.broken_orders.values()),
    }
    assert Order.objects.count() == stats.expected_orders
    assert OrderLine.objects.filter(is_return=True).count() <= stats.details["return_lines"]
    assert Interaction.objects.filter(order__isnull=False, touchpoint_type__code="purchase").count() == (
        stats.expected_orders
    )
    again = import_file(kind="orders", source=tmp_path / "orders.csv", file_name="orders.csv", valid_only=True)
    assert again.counts["unchanged"] == stats.expected_orders
    assert again.counts["new"] == again.counts["updated"] == 0



def _rule_flushes(callbacks) -> int:
    return [callback.__module__ for callback in callbacks].count("touchpoints.events")


def test_imported_orders_reach_the_journey_rules_only_when_the_import_opts_in(
    house, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as history_callbacks:
        history = import_pos(valid_only=True)

    # Only the journey rules' after-commit flush (touchpoints.events) is in question: insight's rollups follow every
    # committed order (core.client_changes), imported or not.
    assert (history.runs_automation, _rule_flushes(history_callbacks)) == (False, 0)
    assert (Enrollment.objects.count(), Transition.objects.count(), FollowUp.objects.count()) == (0, 0, 0)

    import_rollback(batch=history)
    with django_capture_on_commit_callbacks(execute=True) as live_callbacks:
        live = import_pos(valid_only=True, runs_automation=True)

    assert (live.runs_automation, _rule_flushes(live_callbacks)) == (True, 1)  # the rules queued once for the import
    assert dict(Enrollment.objects.values_list("customer__email", "stage__key")) == {
        "helene@example.fr": "loyalty", "marc@example.fr": "loyalty", "anna.schmidt@example.de": "purchase"
    }
    assert sorted(Transition.objects.values_list("enrollment__customer__email", "to_stage__key", "cause")) == [
        ("anna.schmidt@example.de", "purchase", "rule"),
        ("helene@example.fr", "loyalty", "rule"), ("helene@example.fr", "purchase", "rule"),
        ("marc@example.fr", "loyalty", "rule"), ("marc@example.fr", "purchase", "rule"),
    ]
    # Orders of 2024: the clients move, but no thank-you goes out for a purchase that old.
    assert FollowUp.objects.count() == 0


def test_the_command_line_runs_the_journey_rules_only_when_asked(house, capsys):
    for flags in ([], ["--run-journey-rules"]):
        with pytest.raises(CommandError):
            call_command("import_legacy", "orders", str(POS_ORDERS), "--mapping", str(POS_MAPPING), "--valid-only",
                         *flags)

    assert list(ImportBatch.objects.order_by("pk").values_list("runs_automation", flat=True)) == [False, True]
