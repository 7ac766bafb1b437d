"""Everything Atelier holds about a client, as one JSON document: the export behind a data subject's request.

Every row that points at the client is in it (a test fails when a new kind of row is not), with all its stored
fields, so that a field added later is exported without anyone remembering to. Foreign keys are given as ids,
next to a readable label where staff would otherwise have to look the id up (the touchpoint type, the stage).
Reads only: the number of queries is the same for one client or fifty.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Model, Prefetch, QuerySet
from django.utils import timezone

from customers.models import ConsentEvent, ContactConflict, Customer, CustomerExternalState, CustomerMerge
from customers.services.privacy import customer_history_model
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, SurveyMessage
from insight.models import ClientPrediction
from journeys.models import Enrollment, FollowUp, HandsOff, Transition
from touchpoints.models import Appointment, Interaction, Order

EXPORT_FORMAT = "atelier.client-data/1"

# Fields that are not the client's data: the invitation token is a live credential (whoever holds it can answer
# in the client's name), and the client's own id is implied by where the row sits in the document.
LEFT_OUT = {"customer_id", "surviving_customer_id", "pgh_obj_id", "token"}

# The rows that point at a client, by the accessor on Customer, and the key each has in the export.
SECTIONS = {
    "identities": "identities",
    "external_states": "external_systems",
    "contact_conflicts": "contact_conflicts",
    "consent_events": "consent_ledger",
    "merges": "merges",
    "interactions": "interactions",
    "orders": "orders",
    "appointments": "appointments",
    "enrollments": "enrollments",
    "followups": "follow_ups",
    "hands_offs": "hands_off",
    "survey_invitations": "survey_invitations",
    "survey_responses": "survey_responses",
    "recovery_cases": "recovery_cases",
    "recovery_events": "recovery_steps",
    "survey_messages": "survey_messages",
    "events": "history",
    "predictions": "predictions",
}


def _fields(row: Model, **labels: Any) -> dict[str, Any]:
    """Every stored field of a row (foreign keys as `<name>_id`), then the readable labels given."""
    data = {
        field.attname: getattr(row, field.attname)
        for field in row._meta.concrete_fields
        if field.attname not in LEFT_OUT
    }
    data.update(labels)
    return data


def _name(value: Any) -> str | None:
    return str(value) if value is not None else None


def client_data_queryset(*, customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """The clients with every row the export reads, fetched in a fixed number of queries."""
    history = customer_history_model()
    return customers.select_related("home_boutique", "advisor__user", "persona", "anonymized_by").prefetch_related(
        "identities",
        Prefetch(
            "consent_events", queryset=ConsentEvent.objects.select_related("recorded_by").order_by("occurred_at", "pk")
        ),
        Prefetch("merges", queryset=CustomerMerge.objects.select_related("merged_by").order_by("created_at", "pk")),
        Prefetch(
            "interactions",
            queryset=Interaction.objects.select_related("touchpoint_type", "boutique", "advisor__user").order_by(
                "occurred_at", "pk"
            ),
        ),
        Prefetch(
            "orders", queryset=Order.objects.select_related("boutique", "advisor__user").order_by("placed_at", "pk")
        ),
        "orders__lines",
        Prefetch(
            "appointments",
            queryset=Appointment.objects.select_related("boutique", "advisor__user", "created_by").order_by(
                "starts_at", "pk"
            ),
        ),
        Prefetch("enrollments", queryset=Enrollment.objects.select_related("journey", "stage").order_by("pk")),
        Prefetch(
            "enrollments__transitions",
            queryset=Transition.objects.select_related("from_stage", "to_stage", "actor").order_by("occurred_at", "pk"),
        ),
        Prefetch(
            "followups",
            queryset=FollowUp.objects.select_related("template", "advisor__user").order_by("due_at", "pk"),
        ),
        Prefetch("external_states", queryset=CustomerExternalState.objects.order_by("system")),
        Prefetch("contact_conflicts", queryset=ContactConflict.objects.order_by("created_at", "pk")),
        Prefetch("hands_offs", queryset=HandsOff.objects.select_related("set_by", "lifted_by").order_by("pk")),
        Prefetch(
            "survey_invitations", queryset=Invitation.objects.select_related("survey").order_by("created_at", "pk")
        ),
        Prefetch("survey_responses", queryset=Response.objects.select_related("survey").order_by("responded_at", "pk")),
        Prefetch("recovery_cases", queryset=RecoveryCase.objects.select_related("advisor__user").order_by("pk")),
        Prefetch("predictions", queryset=ClientPrediction.objects.select_related("run").order_by("pk")),
        Prefetch("recovery_events", queryset=RecoveryEvent.objects.order_by("occurred_at", "pk")),
        Prefetch("survey_messages", queryset=SurveyMessage.objects.select_related("survey").order_by("due_at", "pk")),
        Prefetch("events", queryset=history.objects.select_related("pgh_context").order_by("pgh_id")),
    )


def _client(customer: Customer) -> dict[str, Any]:
    return {
        "profile": _fields(
            customer,
            full_name=customer.full_name,
            home_boutique=_name(customer.home_boutique),
            advisor=_name(customer.advisor),
            persona=_name(customer.persona),
            anonymized_by=_name(customer.anonymized_by),
        ),
        "identities": [_fields(identity) for identity in customer.identities.all()],
        "consent_ledger": [
            _fields(event, recorded_by=_name(event.recorded_by)) for event in customer.consent_events.all()
        ],
        "merges": [_fields(merge, merged_by=_name(merge.merged_by)) for merge in customer.merges.all()],
        "interactions": [
            _fields(
                interaction,
                touchpoint_type=interaction.touchpoint_type.code,
                boutique=_name(interaction.boutique),
                advisor=_name(interaction.advisor),
            )
            for interaction in customer.interactions.all()
        ],
        "orders": [
            _fields(
                order,
                boutique=_name(order.boutique),
                advisor=_name(order.advisor),
                lines=[_fields(line) for line in order.lines.all()],
            )
            for order in customer.orders.all()
        ],
        "appointments": [
            _fields(appointment, boutique=_name(appointment.boutique), advisor=_name(appointment.advisor),
                    created_by=_name(appointment.created_by))
            for appointment in customer.appointments.all()
        ],
        "enrollments": [
            _fields(
                enrollment,
                journey=enrollment.journey.name,
                stage=enrollment.stage.name,
                transitions=[
                    _fields(
                        transition,
                        from_stage=_name(transition.from_stage and transition.from_stage.name),
                        to_stage=transition.to_stage.name,
                        actor=_name(transition.actor),
                    )
                    for transition in enrollment.transitions.all()
                ],
            )
            for enrollment in customer.enrollments.all()
        ],
        "follow_ups": [
            _fields(followup, template=followup.template.name, advisor=_name(followup.advisor))
            for followup in customer.followups.all()
        ],
        "external_systems": [_fields(state) for state in customer.external_states.all()],
        "contact_conflicts": [_fields(conflict) for conflict in customer.contact_conflicts.all()],
        "hands_off": [
            _fields(pause, set_by=_name(pause.set_by), lifted_by=_name(pause.lifted_by))
            for pause in customer.hands_offs.all()
        ],
        "survey_invitations": [
            _fields(invitation, survey=invitation.survey.name) for invitation in customer.survey_invitations.all()
        ],
        "survey_responses": [
            _fields(response, survey=response.survey.name) for response in customer.survey_responses.all()
        ],
        "recovery_cases": [
            _fields(case, advisor=_name(case.advisor)) for case in customer.recovery_cases.all()
        ],
        "predictions": [
            _fields(prediction, model=prediction.run.get_method_display()) for prediction in customer.predictions.all()
        ],
        "recovery_steps": [_fields(step) for step in customer.recovery_events.all()],
        "survey_messages": [
            _fields(message, survey=message.survey.name) for message in customer.survey_messages.all()
        ],
        "history": [
            _fields(event, context=event.pgh_context.metadata if event.pgh_context_id else None)
            for event in customer.events.all()
        ],
    }


def client_data_export(*, customers: QuerySet[Customer], exported_by: Any, now: dt.datetime | None = None) -> dict:
    """Everything Atelier holds about these clients, ready for json.dumps with DjangoJSONEncoder.

    `customers` must already be scoped to what the staff member may see (CustomerAdmin.get_queryset).
    """
    return {
        "format": EXPORT_FORMAT,
        "exported_at": now or timezone.now(),
        "exported_by": exported_by.get_username(),
        "clients": [_client(customer) for customer in client_data_queryset(customers=customers.order_by("pk"))],
    }
