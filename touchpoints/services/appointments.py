"""Appointments an advisor books with a client: booked for later, then attended, cancelled or missed.

A booking is not a touchpoint yet: interactions refuse times more than a day ahead, and a future booking would read
as the client's last visit. Only `appointment_record_outcome(..., status=ATTENDED)` puts the `appointment`
interaction on the timeline, at the time the appointment began.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.moments import due_at_check
from customers.models import Advisor, Customer, SourceSystem
from customers.scoping import require_reach
from touchpoints.models import Appointment
from touchpoints.services.interactions import interaction_record

logger = logging.getLogger(__name__)

PURPOSE_MAX_LENGTH = 200
SHORTEST = dt.timedelta(minutes=5)
LONGEST = dt.timedelta(hours=12)
OUTCOMES = (Appointment.Status.ATTENDED, Appointment.Status.NO_SHOW)


def boutique_moment(*, day: dt.date, time: dt.time, zone_name: str, field: str = "time") -> dt.datetime:
    """`day` at `time` on the boutique's clock, as an aware datetime. A time the clock skips (the spring change)
    is refused rather than moved, so the client is never told one hour and booked at another."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ApplicationError.for_field("date", f"{day!r} is not a date.")
    if not isinstance(time, dt.time) or time.tzinfo is not None:
        raise ApplicationError.for_field(field, f"{time!r} is not a time of day on the boutique's clock.")
    zone = zoneinfo.ZoneInfo(zone_name)
    moment = dt.datetime.combine(day, time, tzinfo=zone)
    if moment.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise ApplicationError.for_field(field, f"{time:%H:%M} does not exist on {day:%Y-%m-%d} in {zone_name}.")
    return moment


def _actor_advisor(actor: AbstractBaseUser | None) -> Advisor | None:
    if actor is None:
        return None
    return Advisor.objects.filter(user=actor, is_active=True).first()


@transaction.atomic
def appointment_book(
    *,
    customer: Customer,
    day: dt.date,
    time: dt.time,
    purpose: str,
    duration: dt.timedelta = dt.timedelta(hours=1),
    advisor: Advisor | None = None,
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Book `customer` with `advisor` (the actor's advisor role by default) at the client's home boutique, on
    `day` at `time` on that boutique's clock. Refuses a client out of the actor's reach, an advisor of another
    boutique, a time in the past or beyond the house's future range, and a blank purpose."""
    require_reach(actor, [customer.home_boutique_id])
    boutique = customer.home_boutique
    if boutique is None:
        raise ApplicationError.for_field("customer", "Give the client a home boutique before booking them.")
    advisor = advisor or _actor_advisor(actor)
    if advisor is None:
        raise ApplicationError.for_field("advisor", "Choose the advisor the client will see.")
    if not advisor.is_active or advisor.boutique_id != boutique.pk:
        raise ApplicationError.for_field("advisor", f"The advisor does not work at {boutique.name}.")
    purpose = (purpose or "").strip()
    if not purpose:
        raise ApplicationError.for_field("purpose", "Say what the appointment is for.")
    if len(purpose) > PURPOSE_MAX_LENGTH:
        raise ApplicationError.for_field("purpose", f"Keep the purpose under {PURPOSE_MAX_LENGTH} characters.")
    if not isinstance(duration, dt.timedelta) or not SHORTEST <= duration <= LONGEST:
        raise ApplicationError.for_field("duration", "An appointment lasts from 5 minutes to 12 hours.")
    starts_at = boutique_moment(day=day, time=time, zone_name=boutique.timezone)
    now = now or timezone.now()
    starts_at = due_at_check(starts_at, field="time", now=now)
    if starts_at < now:
        raise ApplicationError.for_field("time", "That time has passed: book a time from now on.")
    appointment = Appointment.objects.create(
        customer=customer, advisor=advisor, boutique=boutique, starts_at=starts_at, duration=duration,
        purpose=purpose, created_by=actor,
    )
    logger.info("touchpoints.appointment_booked appointment_id=%s customer_id=%s", appointment.pk, customer.pk)
    return appointment


def _locked_booking(appointment: Appointment, actor: AbstractBaseUser | None) -> Appointment:
    require_reach(actor, [appointment.boutique_id])
    locked = Appointment.objects.select_for_update().select_related("customer", "advisor", "boutique").get(
        pk=appointment.pk
    )
    if locked.status != Appointment.Status.BOOKED:
        raise ApplicationError.for_field(
            "status", f"The appointment is already {locked.get_status_display().lower()}.", appointment=locked.pk
        )
    return locked


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, actor: AbstractBaseUser | None = None) -> Appointment:
    """Cancel a booked appointment. It leaves both days and nothing reaches the timeline."""
    locked = _locked_booking(appointment, actor)
    locked.status = Appointment.Status.CANCELLED
    locked.save(update_fields=["status", "updated_at"])
    logger.info("touchpoints.appointment_cancelled appointment_id=%s", locked.pk)
    return locked


@transaction.atomic
def appointment_record_outcome(
    *, appointment: Appointment, status: str, actor: AbstractBaseUser | None = None, now: dt.datetime | None = None
) -> Appointment:
    """Say how a booked appointment went, once it has begun: attended puts the `appointment` interaction on the
    client's timeline at the time it began (with the advisor and boutique); a no-show records nothing else."""
    if status not in OUTCOMES:
        raise ApplicationError.for_field("status", "The outcome is attended or no-show.")
    locked = _locked_booking(appointment, actor)
    if locked.starts_at > (now or timezone.now()):
        raise ApplicationError.for_field("status", "The appointment has not begun yet.")
    update_fields = ["status", "updated_at"]
    if status == Appointment.Status.ATTENDED:
        locked.interaction = interaction_record(
            customer=locked.customer,
            touchpoint_type="appointment",
            occurred_at=locked.starts_at,
            source=SourceSystem.ATELIER,
            # One appointment is one interaction, even if the outcome is ever replayed.
            external_id=f"appointment:{locked.pk}",
            boutique=locked.boutique,
            advisor=locked.advisor,
            metadata={"purpose": locked.purpose, "appointment_id": locked.pk},
        ).record
        update_fields.append("interaction")
    locked.status = status
    locked.save(update_fields=update_fields)
    logger.info("touchpoints.appointment_outcome appointment_id=%s status=%s", locked.pk, status)
    return locked
