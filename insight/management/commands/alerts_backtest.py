"""`manage.py alerts_backtest --since DATE [--until DATE]`: replay history and list the alerts that would have fired.

Each day from --since to --until (yesterday by default) is evaluated as the daily task would have on the morning
after, with the cool-down and the calendar; nothing is written and nobody is emailed.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.models import Boutique
from insight.selectors_alerts import FIGURES
from insight.services.alerts import alerts_find

MAX_DAYS = 3 * 366


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Give the date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = "Replay history and list the alerts that would have fired (nothing is written)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, help="First day to replay (YYYY-MM-DD).")
        parser.add_argument("--until", help="Last day to replay (YYYY-MM-DD); yesterday by default.")

    def handle(self, *args, **options) -> None:
        since = _date(options["since"])
        until = _date(options["until"]) if options["until"] else timezone.now().date() - dt.timedelta(days=1)
        if until < since:
            raise CommandError("--until is before --since: nothing to replay.")
        if (until - since).days + 1 > MAX_DAYS:
            raise CommandError(f"Replay at most {MAX_DAYS} days at a time.")
        days = [since + dt.timedelta(days=offset) for offset in range((until - since).days + 1)]
        names = dict(Boutique.objects.values_list("pk", "name"))
        found = alerts_find(days=days)
        for item in found:
            finding = item.finding
            where = names.get(item.boutique_id, "the house") if item.boutique_id else "the house"
            self.stdout.write(
                f"{item.day:%Y-%m-%d}  {FIGURES[item.metric].label:<20}  {where:<24}  {finding.kind:<5}  "
                f"value {finding.value:,.2f}  expected {finding.low:,.2f} to {finding.high:,.2f}"
            )
        self.stdout.write(f"{len(found)} alert{'s' if len(found) != 1 else ''} would have fired over {len(days)} "
                          f"day{'s' if len(days) != 1 else ''}.")
