"""A template's results count the follow-ups of the clients the viewer may see: an advisor's boutique, not the
house's (the admin's list of templates and the results on its change page alike)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from customers.models import Advisor, SourceSystem
from journeys.models import FollowUp
from journeys.selectors import followup_results
from tests.factories import BoutiqueFactory, make_staff
from tests.journeys.helpers import make_client, make_template
from touchpoints.services import OrderLineData, order_record

pytestmark = pytest.mark.django_db

SENT = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)


@pytest.fixture
def house():
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg")
    london = BoutiqueFactory(code="LON", name="London Bond Street", timezone="Europe/London")
    template = make_template("Thank you", "email")
    variant = template.variants.get()
    rows = []
    for boutique, sent, converted, held_out in ((paris, 3, 1, 2), (london, 5, 2, 4)):
        client = make_client(boutique)
        order = order_record(source=SourceSystem.POS, external_id=f"O-{boutique.code}", customer=client,
                             placed_at=SENT + dt.timedelta(days=1), currency="EUR", total="1000.00",
                             lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="1000.00")]).record
        for number in range(sent + held_out):
            is_sent = number < sent
            rows.append(FollowUp(
                customer=client, template=template, variant=variant if is_sent else None, channel="email",
                due_at=SENT, sent_at=SENT, status="sent" if is_sent else "held_out",
                attributed_order=order if number < converted else None,
                idempotency_key=f"{boutique.code}:{number}",
            ))
    FollowUp.objects.bulk_create(rows)
    return {"template": template, "paris": paris, "london": london}


def _results(user, template) -> tuple:
    results = followup_results(template=template, viewer=user)
    return (results.treated.reached, results.treated.converted, results.holdout.reached)


def test_each_viewer_counts_the_follow_ups_of_the_clients_they_may_see(house):
    advisor = make_staff(Advisor.Role.ADVISOR, house["paris"])
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, house["london"])
    head_office = make_staff(Advisor.Role.HEAD_OFFICE)

    assert _results(advisor, house["template"]) == (3, 1, 2)
    assert _results(manager, house["template"]) == (5, 2, 4)
    assert _results(head_office, house["template"]) == (8, 3, 6)


def test_the_admin_shows_an_advisor_their_boutiques_results_on_the_list_and_the_change_page(client, house):
    advisor = make_staff(Advisor.Role.ADVISOR, house["paris"])
    client.force_login(advisor)

    listing = client.get(reverse("admin:journeys_followuptemplate_changelist"))
    page = client.get(reverse("admin:journeys_followuptemplate_change", args=[house["template"].pk]))

    assert listing.status_code == 200
    (row,) = [row for row in listing.context["cl"].result_list if row.pk == house["template"].pk]
    assert (row.reached_count, row.converted_count, row.holdout_count, row.holdout_converted_count) == (3, 1, 2, 0)
    assert page.status_code == 200
    assert page.context["results"].treated.reached == 3
    assert page.context["results"].variants[0].converted == 1


def test_staff_who_see_no_client_see_no_results(client, house):
    nobody = make_staff(Advisor.Role.ADVISOR, house["paris"])
    Advisor.objects.filter(user=nobody).update(is_active=False)

    assert _results(nobody, house["template"]) == (0, 0, 0)
