"""Handing a client book over: a manager shares a leaving advisor's clients out among advisors of the same boutique
in one action on the advisor list, and the hand-over is recorded. Another boutique's advisors are out of reach;
an advisor who still holds clients cannot be moved to another boutique before their book is handed over."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from customers.models import Advisor, ClientHandover, Customer, SourceSystem
from customers.services import customer_upsert
from tests.desk.helpers import logged_in, messages_of
from tests.factories import AdvisorFactory, BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db

ADVISORS_URL = reverse("admin:customers_advisor_changelist")




def hand_over(browser: Client, from_advisor: Advisor, **choices):
    data = {"action": "hand_over_client_book", "_selected_action": [from_advisor.pk]}
    data |= {"apply": "yes", **choices} if choices else {"index": "0"}
    return browser.post(ADVISORS_URL, data)


def books() -> dict[int | None, int]:
    """How many clients each advisor holds."""
    counts: dict[int | None, int] = {}
    for advisor_id in Customer.objects.values_list("advisor_id", flat=True):
        counts[advisor_id] = counts.get(advisor_id, 0) + 1
    return counts


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR")


@pytest.fixture
def london():
    return BoutiqueFactory(code="LON", name="London Bond Street", country="GB", currency="GBP")


@pytest.fixture
def manager(paris):
    return make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")


@pytest.fixture
def leaver(paris):
    advisor = AdvisorFactory(boutique=paris, user__last_name="Leaving")
    for number in range(1, 6):
        customer_upsert(source=SourceSystem.POS, external_id=f"C-{number}", email=f"client{number}@example.com",
                        home_boutique=paris, advisor=advisor)
    return advisor


@pytest.fixture
def colleagues(paris):
    return [AdvisorFactory(boutique=paris, user__last_name="Anna"), AdvisorFactory(boutique=paris,
                                                                                  user__last_name="Bruno")]


def test_a_manager_hands_five_clients_over_to_two_advisors_as_three_and_two(manager, leaver, colleagues):
    anna, bruno = colleagues
    browser = logged_in(manager)

    page = hand_over(browser, leaver)
    done = hand_over(browser, leaver, to_advisors=[anna.pk, bruno.pk], note="Leaves the house on 30 June")

    assert page.status_code == 200
    assert page.templates[0].name == "admin/desk/hand_over.html"
    assert "holds 5 clients at Paris Faubourg" in page.content.decode()
    assert done.status_code == 302
    assert messages_of(done) == ["Handed 5 clients of Camille Leaving over: Camille Anna 3, Camille Bruno 2."]
    assert books() == {anna.pk: 3, bruno.pk: 2}
    handover = ClientHandover.objects.get()
    assert (handover.from_advisor, handover.boutique_id, handover.handed_over_by, handover.allocation,
            handover.client_count, handover.note) == (
        leaver, leaver.boutique_id, manager, {str(anna.pk): 3, str(bruno.pk): 2}, 5, "Leaves the house on 30 June"
    )
    record_page = browser.get(reverse("admin:customers_clienthandover_change", args=[handover.pk]))
    assert "Camille Anna: 3, Camille Bruno: 2" in record_page.content.decode()


def test_only_active_advisors_of_the_same_boutique_are_offered(manager, london, leaver, colleagues):
    AdvisorFactory(boutique=leaver.boutique, user__last_name="Gone", is_active=False)
    AdvisorFactory(boutique=london, user__last_name="Londoner")

    page = hand_over(logged_in(manager), leaver)

    offered = list(page.context["form"].fields["to_advisors"].queryset)
    assert sorted(offered, key=str) == sorted([*colleagues, manager.advisor], key=str)


def test_a_manager_cannot_hand_over_to_an_advisor_of_another_boutique(manager, london, leaver, colleagues):
    londoner = AdvisorFactory(boutique=london)

    response = hand_over(logged_in(manager), leaver, to_advisors=[londoner.pk])

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["to_advisors"]
    assert books() == {leaver.pk: 5}
    assert ClientHandover.objects.count() == 0


def test_a_manager_cannot_hand_over_another_boutiques_advisor(manager, london):
    londoner = AdvisorFactory(boutique=london)
    receiver = AdvisorFactory(boutique=london)
    customer_upsert(source=SourceSystem.POS, external_id="L-1", email="london@example.com", home_boutique=london,
                    advisor=londoner)

    response = hand_over(logged_in(manager), londoner, to_advisors=[receiver.pk])

    assert messages_of(response) == ["None of the selected advisors is on your list; nothing was changed."]
    assert books() == {londoner.pk: 1}
    assert ClientHandover.objects.count() == 0


def test_an_advisor_cannot_hand_a_client_book_over(paris, leaver, colleagues):
    advisor_user = make_staff(Advisor.Role.ADVISOR, paris, username="camille")

    response = hand_over(logged_in(advisor_user), leaver, to_advisors=[colleagues[0].pk])

    # The list offers the advisor no action at all, so the POST only shows the list again.
    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert messages_of(response) == []
    assert books() == {leaver.pk: 5}
    assert ClientHandover.objects.count() == 0


def test_a_manager_sees_only_their_boutiques_advisors_with_their_client_books(manager, london, leaver, colleagues):
    AdvisorFactory(boutique=london)

    response = logged_in(manager).get(ADVISORS_URL)

    rows = response.context["cl"].result_list
    assert sorted((str(advisor), advisor.client_count) for advisor in rows) == sorted(
        [("Camille Anna", 0), ("Camille Bruno", 0), ("Camille Leaving", 5), (str(manager.advisor), 0)]
    )
    clients_url = reverse("admin:customers_customer_changelist")
    assert f'href="{clients_url}?advisor_id={leaver.pk}&amp;client_book=all">5 clients</a>' in response.content.decode()


def change_form(advisor: Advisor, **changes) -> dict[str, object]:
    data = {"user": advisor.user_id, "boutique": advisor.boutique_id or "", "role": advisor.role,
            "is_active": "on" if advisor.is_active else ""}
    return {**data, **changes}


def test_an_advisor_holding_clients_cannot_change_boutique_before_the_hand_over(london, leaver, colleagues):
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="head")
    browser = logged_in(head_office)
    url = reverse("admin:customers_advisor_change", args=[leaver.pk])

    refused = browser.post(url, change_form(leaver, boutique=london.pk))
    hand_over(browser, leaver, to_advisors=[advisor.pk for advisor in colleagues])
    accepted = browser.post(url, change_form(leaver, boutique=london.pk))

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {
        "boutique": ["Camille Leaving still has 5 clients at their boutique; hand the client book over before moving "
                     "them."]
    }
    assert accepted.status_code == 302
    leaver.refresh_from_db()
    assert leaver.boutique == london


def test_saving_an_advisor_in_the_admin_brings_their_groups_in_line_with_the_role(paris):
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="head")
    advisor_user = make_staff(Advisor.Role.ADVISOR, paris, username="camille")
    advisor = advisor_user.advisor
    url = reverse("admin:customers_advisor_change", args=[advisor.pk])

    response = logged_in(head_office).post(url, change_form(advisor, role=Advisor.Role.BOUTIQUE_MANAGER))

    assert response.status_code == 302
    assert list(Group.objects.filter(user=advisor_user).values_list("name", flat=True)) == ["Boutique manager"]
