"""End to end with a real Celery worker on Redis: an order recorded through touchpoints reaches the journey rules
after its commit, whatever recorded it, and the worker moves the client and schedules the follow-up."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from customers.models import Advisor, Customer, SourceSystem
from customers.services import customer_upsert
from journeys.models import Enrollment, FollowUp, Journey, Rule, Transition
from journeys.services import enrollment_place, hands_off_set
from journeys.tasks import rules_apply_to_interactions_task
from tests.factories import make_staff
from tests.journeys.helpers import wait_for
from touchpoints.models import Interaction
from touchpoints.services import OrderLineData, order_record

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def client(number: int) -> Customer:
    return customer_upsert(source="crm", external_id=f"C-{number}", email=f"c{number}@example.com").customer


def buy(customer: Customer, number: int, placed_at: dt.datetime) -> Interaction:
    order = order_record(
        source=SourceSystem.POS, external_id=f"O-{number}", customer=customer, placed_at=placed_at, currency="EUR",
        total="950.00", lines=[OrderLineData(sku="SCARF-9", quantity=1, unit_price="950.00")],
    ).record
    return order.interactions.get()


def stage_of(customer: Customer) -> str | None:
    enrollment = Enrollment.objects.filter(customer=customer).select_related("stage").first()
    return enrollment.stage.key if enrollment else None


def test_orders_move_the_client_through_purchase_to_loyalty_on_the_worker_and_a_rerun_changes_nothing(celery_worker):
    camille = client(1)
    placed_at = timezone.now().replace(microsecond=0)

    first = buy(camille, 1, placed_at)  # committed: the listener queues the rules for the worker
    wait_for(lambda: FollowUp.objects.filter(customer=camille).exists())

    transition = Transition.objects.get(enrollment__customer=camille)
    assert (stage_of(camille), transition.cause, transition.rule.name, transition.interaction_id) == (
        "purchase", "rule", "First purchase → Purchase, with a thank-you", first.pk
    )
    followup = FollowUp.objects.get(customer=camille)
    assert (followup.template.name, followup.due_at, followup.status, followup.transition_id) == (
        "Thank you for your first purchase", placed_at + dt.timedelta(days=2), "scheduled", transition.pk
    )

    second = buy(camille, 2, placed_at + dt.timedelta(minutes=5))
    wait_for(lambda: stage_of(camille) == "loyalty")

    loyalty = Transition.objects.get(enrollment__customer=camille, to_stage__key="loyalty")
    assert (loyalty.rule.name, loyalty.interaction_id) == ("Second purchase within a year → Loyalty", second.pk)

    rerun = rules_apply_to_interactions_task.apply_async(args=[[first.pk, second.pk]], queue=celery_worker)

    assert rerun.get(timeout=30) == {
        "evaluated": 2, "fired": 0, "enrolled": 0, "moved": 0, "followups": 0, "skipped_hands_off": 0,
        "skipped_grace": 0, "skipped_late_followups": 0,
    }
    assert (Transition.objects.count(), FollowUp.objects.count(), stage_of(camille)) == (2, 1, "loyalty")


def test_the_worker_leaves_clients_on_hands_off_and_clients_moved_by_hand_in_the_grace_period(celery_worker):
    paused, placed, sentinel = client(1), client(2), client(3)
    hands_off_set(customer=paused, actor=make_staff(Advisor.Role.HEAD_OFFICE), reason="Bereavement")
    lifecycle = Journey.objects.get(slug="client-lifecycle")
    enrollment_place(customer=placed, to_stage=lifecycle.stages.get(key="post_purchase"),
                     actor=make_staff(Advisor.Role.HEAD_OFFICE), note="Bought at the atelier last year")
    placed_at = timezone.now()

    buy(paused, 1, placed_at)
    buy(placed, 2, placed_at)
    buy(placed, 3, placed_at + dt.timedelta(minutes=1))  # a second purchase within a year: loyalty, but held back
    buy(sentinel, 4, placed_at)  # one worker, tasks in order: once this one is done, so are the others
    wait_for(lambda: stage_of(sentinel) == "purchase")

    assert (stage_of(paused), stage_of(placed)) == (None, "post_purchase")
    assert list(Transition.objects.filter(cause="rule").values_list("enrollment__customer", "rule__name")) == [
        (sentinel.pk, "First purchase → Purchase, with a thank-you")
    ]
    assert list(FollowUp.objects.values_list("customer", flat=True)) == [sentinel.pk]
    assert Rule.objects.filter(is_active=True).count() == 8
