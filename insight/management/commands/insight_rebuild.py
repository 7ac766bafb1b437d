"""manage.py insight_rebuild [--since DATE]: rebuild insight's rollups from the raw tables."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from insight.services import rollups_rebuild, rollups_reconcile


class Command(BaseCommand):
    help = ("Rebuild the journey map's and the house's rollups from the raw tables: all of them, or (--since) those "
            "of the clients whose orders or stages were written or dated since DATE.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", help="YYYY-MM-DD: only the clients touched since this day.")

    def handle(self, *args, since: str | None = None, **options) -> None:
        if since is None:
            counts = rollups_rebuild()
        else:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError:
                raise CommandError(f"--since {since!r} is not a date; give YYYY-MM-DD.") from None
            counts = rollups_reconcile(since=day)
        self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
