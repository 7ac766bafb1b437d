"""Staff write only within their reach: a client stays in a boutique its staff work for, with an advisor of that
boutique, and every write service that takes a staff member checks it itself, whatever form or view called it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Advisor, ClientHandover, Customer, SourceSystem
from customers.services import (
    client_book_hand_over,
    customer_merge,
    customer_update,
    customer_upsert,
    customers_assign_advisor,
)
from journeys.models import Enrollment, HandsOff, Journey, Transition
from journeys.services.enrollments import enrollment_enroll, enrollment_move
from journeys.services.hands_off import hands_off_set
from tests.admin.test_admin_pages import form_data
from tests.desk.helpers import logged_in
from tests.factories import AdvisorFactory, BoutiqueFactory, make_staff
from touchpoints.models import Interaction
from touchpoints.services.staff import interaction_log

pytestmark = pytest.mark.django_db

OUT_OF_REACH = "This client is out of your reach."


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR")


@pytest.fixture
def london():
    return BoutiqueFactory(code="LON", name="London Bond Street", country="GB", currency="GBP")


@pytest.fixture
def paris_advisor(paris):
    return Advisor.objects.get(user=make_staff(Advisor.Role.ADVISOR, paris, username="paris-advisor"))


@pytest.fixture
def camille(paris, paris_advisor):
    return customer_upsert(source=SourceSystem.POS, external_id="C-1", email="camille@example.com",
                           first_name="Camille", home_boutique=paris, advisor=paris_advisor).customer


@pytest.fixture
def oliver(london):
    return customer_upsert(source=SourceSystem.POS, external_id="L-1", email="oliver@example.com",
                           first_name="Oliver", home_boutique=london).customer


def change_url(customer: Customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def post_change(user, customer: Customer, **changes):
    browser = logged_in(user)
    data = form_data(browser.get(change_url(customer)))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return browser.post(change_url(customer), data)


def stored(customer: Customer) -> tuple[int | None, int | None]:
    return Customer.objects.filter(pk=customer.pk).values_list("home_boutique_id", "advisor_id").get()


@pytest.mark.parametrize("role", [Advisor.Role.ADVISOR, Advisor.Role.BOUTIQUE_MANAGER])
def test_staff_cannot_move_their_client_to_another_boutique_from_the_change_form(role, paris, london, camille,
                                                                                paris_advisor):
    staff = make_staff(role, paris, username=f"{role}-paris")

    response = post_change(staff, camille, home_boutique=london.pk)

    assert response.status_code == 200  # the form again, with the refusal on the field
    errors = response.context["adminform"].form.errors
    assert "home_boutique" in errors
    assert stored(camille) == (paris.pk, paris_advisor.pk)


@pytest.mark.parametrize("role", [Advisor.Role.ADVISOR, Advisor.Role.BOUTIQUE_MANAGER])
def test_staff_cannot_take_their_client_out_of_every_boutique(role, paris, camille, paris_advisor):
    staff = make_staff(role, paris, username=f"{role}-paris")

    response = post_change(staff, camille, home_boutique=None)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["home_boutique"] == [
        "Only head office can take a client out of every boutique."
    ]
    assert stored(camille) == (paris.pk, paris_advisor.pk)


def test_the_boutique_choices_of_the_change_form_are_the_staff_members_own(paris, london, camille):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")

    page = logged_in(manager).get(change_url(camille))

    choices = [choice for choice, _ in page.context["adminform"].form.fields["home_boutique"].choices if choice]
    assert [int(str(choice)) for choice in choices] == [paris.pk]


def test_a_manager_cannot_give_their_client_an_advisor_of_another_boutique(paris, london, camille, paris_advisor):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    london_advisor = AdvisorFactory(boutique=london)

    response = post_change(manager, camille, advisor=london_advisor.pk)

    assert response.status_code == 200
    assert "advisor" in response.context["adminform"].form.errors
    assert stored(camille) == (paris.pk, paris_advisor.pk)


def test_head_office_moves_a_client_to_another_boutique_only_with_an_advisor_of_it(paris, london, camille,
                                                                                  paris_advisor):
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="head-office")
    london_advisor = AdvisorFactory(boutique=london)

    kept_advisor = post_change(head_office, camille, home_boutique=london.pk)
    moved = post_change(head_office, camille, home_boutique=london.pk, advisor=london_advisor.pk)

    assert kept_advisor.status_code == 200
    assert kept_advisor.context["adminform"].form.errors["advisor"] == [
        f"{paris_advisor} works at another boutique: choose an advisor of the new boutique, or none."
    ]
    assert moved.status_code == 302
    assert stored(camille) == (london.pk, london_advisor.pk)


def test_customer_update_checks_the_staff_members_reach_itself(paris, london, oliver, paris_advisor):
    with pytest.raises(ApplicationError) as refused:
        customer_update(customer=oliver, changes={"first_name": "Mallory"}, actor=paris_advisor.user)

    assert refused.value.message == OUT_OF_REACH
    assert Customer.objects.get(pk=oliver.pk).first_name == "Oliver"


def test_customer_update_refuses_a_boutique_out_of_reach_whatever_form_called_it(paris, london, camille,
                                                                                paris_advisor):
    with pytest.raises(ApplicationError) as refused:
        customer_update(customer=camille, changes={"home_boutique": london, "advisor": None},
                        actor=paris_advisor.user)

    assert refused.value.fields == {
        "home_boutique": ["Choose your own boutique; head office moves clients to another boutique."]
    }
    assert stored(camille) == (paris.pk, paris_advisor.pk)


def test_an_email_of_a_client_out_of_reach_is_refused_without_saying_a_client_has_it(paris, camille, oliver,
                                                                                     paris_advisor):
    with pytest.raises(ApplicationError) as refused:
        customer_update(customer=camille, changes={"email": "oliver@example.com"}, actor=paris_advisor.user)

    assert refused.value.fields == {"email": ["This email address cannot be given to this client; ask head office."]}
    assert Customer.objects.get(pk=camille.pk).email == "camille@example.com"


def test_a_hand_over_moves_only_the_clients_of_the_advisors_boutique(paris, london, camille, oliver, paris_advisor):
    # A client of the leaver at another boutique (data from before the boutique checks): not the manager's to move.
    Customer.objects.filter(pk=oliver.pk).update(advisor=paris_advisor)
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    colleague = AdvisorFactory(boutique=paris)

    handover = client_book_hand_over(from_advisor=paris_advisor, to_advisors=[colleague], actor=manager)

    assert handover.client_count == 1
    assert stored(camille) == (paris.pk, colleague.pk)
    assert stored(oliver) == (london.pk, paris_advisor.pk)


def test_a_manager_of_another_boutique_cannot_hand_a_book_over(paris, london, camille, paris_advisor):
    london_manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, london, username="london-manager")

    with pytest.raises(ApplicationError, match="out of your reach"):
        client_book_hand_over(from_advisor=paris_advisor, to_advisors=[AdvisorFactory(boutique=paris)],
                              actor=london_manager)

    assert stored(camille) == (paris.pk, paris_advisor.pk)
    assert not ClientHandover.objects.exists()


def test_assigning_an_advisor_to_clients_out_of_reach_is_refused(paris, london, oliver):
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    london_advisor = AdvisorFactory(boutique=london)

    with pytest.raises(ApplicationError, match="out of your reach"):
        customers_assign_advisor(customers=Customer.objects.filter(pk=oliver.pk), advisor=london_advisor,
                                 actor=manager)

    assert stored(oliver) == (london.pk, None)


def test_every_staff_write_service_refuses_a_client_out_of_reach(paris, london, camille, oliver, paris_advisor):
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="head-office")
    journey = Journey.objects.get(slug="client-lifecycle")
    enrollment, _ = enrollment_enroll(customer=oliver, journey=journey, actor=head_office)
    next_stage = journey.stages.exclude(pk=enrollment.stage_id).order_by("position").first()
    actor = paris_advisor.user
    transitions = Transition.objects.count()

    refusals = []
    for call in [
        lambda: interaction_log(customer=oliver, touchpoint_type="store_visit", actor=actor),
        lambda: enrollment_move(enrollment=enrollment, to_stage=next_stage, cause=Transition.Cause.MANUAL,
                                actor=actor),
        lambda: hands_off_set(customer=oliver, actor=actor, until=timezone.now() + dt.timedelta(days=3)),
        lambda: customer_merge(surviving=camille, merged=oliver, actor=actor),
    ]:
        with pytest.raises(ApplicationError) as refused:
            call()
        refusals.append(refused.value.message)

    assert refusals == [OUT_OF_REACH] * 4
    assert not Interaction.objects.filter(customer=oliver, touchpoint_type__code="store_visit").exists()
    assert Enrollment.objects.get(pk=enrollment.pk).stage_id == enrollment.stage_id
    assert Transition.objects.count() == transitions
    assert not HandsOff.objects.filter(customer=oliver).exists()
    assert Customer.objects.filter(pk__in=[camille.pk, oliver.pk]).count() == 2
