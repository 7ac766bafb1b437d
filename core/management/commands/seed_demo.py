"""`manage.py seed_demo`: fill the database with a believable luxury house for demos (bench.generator)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from bench.generator import DEFAULT_CHUNK_SIZE, demo_data_delete, generate
from customers.models import Customer

DEFAULT_PASSWORD = "atelier-demo-2026"
ADMIN_USERNAME = "admin"
ADMIN_EMAIL = "admin@atelier.example"
# Any constant will do: it only keeps two seed_demo runs (say, two `make demo` at once) from both seeding.
SEED_LOCK_KEY = 0x5EED_DE30


class Command(BaseCommand):
    help = (
        "Create demo boutiques, staff logins, personas, products and clients with two years of history. "
        "Refuses a database that already has clients unless --if-empty (then does nothing) or --reset."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=2_000, help="How many clients (default 2000).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed; the same seed gives the same data.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when clients already exist.")
        parser.add_argument("--reset", action="store_true", help="Delete existing clients and demo data first.")
        parser.add_argument(
            "--password", default="", help="Password of the demo staff and admin (default: $DEMO_PASSWORD, else "
            f"{DEFAULT_PASSWORD!r}).",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
            help=f"Clients per transaction and COPY batch (default {DEFAULT_CHUNK_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        customers, seed = options["customers"], options["seed"]
        if customers < 0 or seed < 0 or options["chunk_size"] < 1:
            raise CommandError("--customers and --seed must be zero or more, --chunk-size at least 1.")
        if options["if_empty"] and options["reset"]:
            raise CommandError("--if-empty and --reset contradict each other; choose one.")
        password = options["password"] or os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [SEED_LOCK_KEY])
        try:
            self._seed(customers=customers, seed=seed, password=password, options=options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [SEED_LOCK_KEY])

    def _seed(self, *, customers: int, seed: int, password: str, options: dict[str, Any]) -> None:
        existing = Customer.objects.count()
        if existing and options["if_empty"]:
            self.stdout.write(f"The database already has {existing} clients: nothing to seed (--if-empty).")
            return
        if existing and not options["reset"]:
            raise CommandError(
                f"The database already has {existing} clients. Run with --reset to delete them and the demo data "
                "first, or with --if-empty to leave them."
            )
        if options["reset"]:
            demo_data_delete()
            self.stdout.write(f"Deleted {existing} clients with their history, and the demo staff and catalogue.")

        self._ensure_admin(password)
        with tqdm(total=customers, unit=" clients", file=sys.stderr, disable=options["verbosity"] == 0,
                  desc="Seeding") as bar:
            result = generate(customers=customers, seed=seed, password=password, progress=bar.update,
                              chunk_size=options["chunk_size"])

        width = max(len(label) for label in result.counts)
        self.stdout.write("Rows written:")
        for label, count in result.counts.items():
            self.stdout.write(f"  {label:<{width}}  {count:>12,}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {customers:,} clients: {result.rows:,} rows in {result.seconds:.1f} s "
                f"({result.rows_per_second:,.0f} rows/s)."
            )
        )

    def _ensure_admin(self, password: str) -> None:
        """The superuser of the demo. An existing `admin` is left as it is (demo_login resets logins)."""
        user_model = get_user_model()
        if not user_model.objects.filter(username=ADMIN_USERNAME).exists():
            user_model.objects.create_superuser(username=ADMIN_USERNAME, email=ADMIN_EMAIL, password=password)
            self.stdout.write(f"Created the superuser {ADMIN_USERNAME!r}.")
