"""Staff: an advisor's role decides their group (permissions) and, through customers.scoping, whose clients they see;
client books are assigned and handed over here."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pghistory
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.db.models import QuerySet

from core.errors import ApplicationError
from customers.models import Advisor, ClientHandover, Customer
from customers.scoping import forget_scope, require_reach

logger = logging.getLogger(__name__)

ROLE_GROUPS = {
    Advisor.Role.ADVISOR: "Advisor",
    Advisor.Role.BOUTIQUE_MANAGER: "Boutique manager",
    Advisor.Role.HEAD_OFFICE: "Head office",
}


def staff_groups_sync(*, advisors: Iterable[Advisor] | None = None) -> int:
    """Put each advisor's user in the group of their role (and no other role group); active staff may log in.

    With no advisors given, every advisor is synced (after a bulk load such as seed_demo). Returns how many.
    """
    queryset = Advisor.objects.select_related("user")
    if advisors is not None:
        queryset = queryset.filter(pk__in=[advisor.pk for advisor in advisors])
    groups = {role: Group.objects.get(name=name) for role, name in ROLE_GROUPS.items()}
    memberships = Group.user_set.through
    synced = 0
    with transaction.atomic():
        for advisor in queryset:
            user = advisor.user
            memberships.objects.filter(user_id=user.pk, group__in=groups.values()).exclude(
                group=groups[advisor.role]
            ).delete()
            if advisor.is_active:
                memberships.objects.get_or_create(user_id=user.pk, group=groups[advisor.role])
            else:
                memberships.objects.filter(user_id=user.pk, group=groups[advisor.role]).delete()
            if user.is_staff != advisor.is_active:
                user.is_staff = advisor.is_active
                user.save(update_fields=["is_staff"])
            forget_scope(user)
            synced += 1
    return synced


def advisor_validate(*, advisor: Advisor) -> None:
    """Refuse a role or boutique an advisor cannot have; advisor_save checks it, forms call it to say so early.

    An advisor who still holds clients of their boutique cannot move to another one: the clients would stay with
    someone that boutique's staff no longer see, out of reach of its manager's hand-over. Hand them over first.
    """
    if advisor.role != Advisor.Role.HEAD_OFFICE and advisor.boutique_id is None:
        raise ApplicationError.for_field("boutique", "Advisors and boutique managers belong to a boutique.")
    if advisor.pk is None:
        return
    previous_boutique_id = Advisor.objects.filter(pk=advisor.pk).values_list("boutique_id", flat=True).first()
    if previous_boutique_id is None or previous_boutique_id == advisor.boutique_id:
        return
    count = Customer.objects.filter(advisor_id=advisor.pk, home_boutique_id=previous_boutique_id).count()
    if count:
        raise ApplicationError.for_field(
            "boutique",
            f"{advisor} still has {count} client{'s' if count != 1 else ''} at their boutique; hand the client "
            "book over before moving them.",
            clients=count,
        )


@transaction.atomic
def advisor_save(*, advisor: Advisor) -> Advisor:
    """Save an advisor's role and boutique, and bring their permissions in line with the role."""
    advisor_validate(advisor=advisor)
    advisor.save()
    staff_groups_sync(advisors=[advisor])
    logger.info("customers.advisor_saved advisor_id=%s role=%s", advisor.pk, advisor.role)
    return advisor


def advisor_check_for(advisor: Advisor, boutique_ids: set[int | None]) -> None:
    """Refuse `advisor` for clients of these boutiques: a client's advisor is an active advisor of their boutique."""
    if not advisor.is_active:
        raise ApplicationError.for_field("advisor", f"{advisor} is no longer active.")
    if advisor.role == Advisor.Role.HEAD_OFFICE:
        raise ApplicationError.for_field("advisor", "Clients are assigned to boutique advisors, not head office.")
    foreign = boutique_ids - {advisor.boutique_id}
    if foreign:
        raise ApplicationError.for_field(
            "advisor", f"{advisor} works at another boutique than some of these clients.",
            boutiques=sorted(boutique_id for boutique_id in foreign if boutique_id is not None),
        )


@transaction.atomic
def customers_assign_advisor(
    *, customers: QuerySet[Customer], advisor: Advisor, actor: AbstractBaseUser | None = None
) -> int:
    """Make `advisor` the advisor of these clients (all of the advisor's boutique). Returns how many changed.

    `actor`, the staff member asking, must reach every one of the clients and the advisor's boutique."""
    boutique_ids = set(customers.values_list("home_boutique_id", flat=True).distinct())
    require_reach(actor, boutique_ids | {advisor.boutique_id})
    advisor_check_for(advisor, boutique_ids)
    with pghistory.context(action="assign_advisor", advisor_id=advisor.pk):
        changed = customers.exclude(advisor=advisor).update(advisor=advisor)
    logger.info("customers.advisor_assigned advisor_id=%s count=%s", advisor.pk, changed)
    return changed


@transaction.atomic
def client_book_hand_over(
    *, from_advisor: Advisor, to_advisors: list[Advisor], actor: AbstractBaseUser | None = None, note: str = ""
) -> ClientHandover:
    """Share out an advisor's whole client book among other advisors of the same boutique, evenly and in a stable
    order (best clients first, dealt round the table), and record the hand-over.

    Only the clients of the advisor's own boutique are handed over, and only by staff who reach that boutique: a
    hand-over never writes to clients its author cannot see."""
    require_reach(actor, [from_advisor.boutique_id], field="from_advisor",
                  message="This advisor works at a boutique out of your reach.")
    if not to_advisors:
        raise ApplicationError.for_field("to_advisors", "Choose at least one advisor to take over the clients.")
    if any(advisor.pk == from_advisor.pk for advisor in to_advisors):
        raise ApplicationError.for_field("to_advisors", "An advisor cannot hand their clients over to themselves.")
    for advisor in to_advisors:
        advisor_check_for(advisor, {from_advisor.boutique_id})
    book = list(
        Customer.objects.select_for_update()
        .filter(advisor=from_advisor, home_boutique_id=from_advisor.boutique_id)
        .order_by("-lifetime_value", "pk")
        .values_list("pk", flat=True)
    )
    if not book:
        raise ApplicationError.for_field("from_advisor", f"{from_advisor} has no clients to hand over.")
    shares: dict[int, list[int]] = {advisor.pk: [] for advisor in to_advisors}
    order = [advisor.pk for advisor in to_advisors]
    for position, customer_id in enumerate(book):
        shares[order[position % len(order)]].append(customer_id)
    with pghistory.context(action="hand_over_client_book", from_advisor_id=from_advisor.pk):
        for advisor_id, customer_ids in shares.items():
            Customer.objects.filter(pk__in=customer_ids).update(advisor_id=advisor_id)
    handover = ClientHandover.objects.create(
        from_advisor=from_advisor,
        boutique_id=from_advisor.boutique_id,
        handed_over_by=actor,
        allocation={str(advisor_id): len(customer_ids) for advisor_id, customer_ids in shares.items()},
        client_count=len(book),
        note=note[:240],
    )
    logger.info("customers.client_book_handed_over handover_id=%s count=%s", handover.pk, len(book))
    return handover
