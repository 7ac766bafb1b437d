"""Server time of the client admin at 100,000 clients, next to a plain ModelAdmin on the same data in the same run.

    .venv/bin/python bench/admin_pages.py [--customers 100000] [--requests 40] [--reseed]

Seeds a scratch database (atelier_bench_admin, kept between runs; --reseed rebuilds it) with the demo generator,
then times in-process requests (Django's test client: the whole view, queries and template, no network) for the
client list, searches (a phone typed the local way, a name's start, a surname and first name in either
order, a number's last digits), and a client page — as head office and as an advisor — against
the same pages of a plain `admin.ModelAdmin` for Customer (its own icontains search) on a second admin site.
Prints p50/p95 in ms and the number of SQL queries per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.seed import _setup_django, seed_if_needed  # noqa: E402

DATABASE = "atelier_bench_admin"


def _time(client, url: str, requests: int) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm caches and connections
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    timings.sort()
    p95 = timings[max(0, round(len(timings) * 0.95) - 1)]
    return statistics.median(timings), p95, len(queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--reseed", action="store_true")
    arguments = parser.parse_args()

    _setup_django(DATABASE)
    from django.conf import settings

    settings.DEBUG = False  # no query log growing in memory
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.ROOT_URLCONF = "bench.admin_urls"
    seed_if_needed(DATABASE, arguments.customers, reseed=arguments.reseed)

    import phonenumbers
    from django.contrib.auth import get_user_model
    from django.test import Client

    from customers.models import Advisor, Customer

    advisor = Advisor.objects.filter(role="advisor", boutique__code__isnull=False).select_related("boutique").first()
    head_office = get_user_model().objects.get(username="admin")
    busiest = (
        Customer.objects.filter(home_boutique=advisor.boutique).order_by("-order_count", "pk").first()
    )
    # Searched as staff type it in the boutique: the national format, with spaces and no country code.
    national = phonenumbers.format_number(phonenumbers.parse(busiest.phone), phonenumbers.PhoneNumberFormat.NATIONAL)

    pages = {
        "client list": "{prefix}customers/customer/",
        "phone search": "{prefix}customers/customer/?q=" + national.replace(" ", "+"),
        "name search": "{prefix}customers/customer/?q=" + busiest.last_name[:4],
        # Surname first, then the first name's start: any word, in any order, accents folded (customers.search).
        "words search": "{prefix}customers/customer/?q=" + f"{busiest.last_name}+{busiest.first_name[:3]}",
        # The last seven digits of the number, as staff read them off a caller id.
        "digits search": "{prefix}customers/customer/?q=" + busiest.phone[-7:],
        "client page": "{prefix}customers/customer/" + str(busiest.pk) + "/change/",
    }
    rows = []
    for who, user in (("head office", head_office), ("advisor", advisor.user)):
        client = Client()
        client.force_login(user)
        for page, pattern in pages.items():
            for admin_name, prefix in (("Atelier", "/admin/"), ("plain ModelAdmin", "/plain-admin/")):
                if admin_name == "plain ModelAdmin" and who == "advisor":
                    continue  # the plain admin knows no boutique scope: only head office is comparable
                p50, p95, queries, size = _time(client, pattern.format(prefix=prefix), arguments.requests)
                rows.append((who, page, admin_name, p50, p95, queries, size))

    print(f"\nServer time per request, {Customer.objects.count():,} clients, {arguments.requests} requests each "
          f"(PostgreSQL, Django test client in-process)")
    print(f"{'user':<12} {'page':<13} {'admin':<17} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'KB':>6}")
    for who, page, admin_name, p50, p95, queries, size in rows:
        print(f"{who:<12} {page:<13} {admin_name:<17} {p50:>8.1f} {p95:>8.1f} {queries:>8} {size / 1024:>6.0f}")


if __name__ == "__main__":
    main()
