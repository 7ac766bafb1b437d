"""Taking an order import back: the orders it created removed with their lines and timeline interactions, the orders
it updated restored (fields, lines, the interactions the update added), the clients' metrics recomputed."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from core.errors import ApplicationError
from imports.kinds.interactions import _last_interaction_recomputed
from imports.models import ImportBatch, ImportChange
from touchpoints.models import Interaction, Order, OrderLine
from touchpoints.services import customer_metrics_refresh

LINE_COLUMNS = ("line_number", "sku", "product_id", "product_name", "category", "quantity", "unit_price", "is_return")


def rollback_order_import(batch: ImportBatch) -> None:
    """Remove the orders the batch created, restore those it updated, and recompute the metrics and last interaction
    of every client concerned. Refused (ApplicationError) when something recorded since depends on an order or an
    interaction it created. Runs inside import_rollback's transaction and history context."""
    order_type, interaction_type = (ContentType.objects.get_for_model(model) for model in (Order, Interaction))
    created_orders = batch.changes.filter(content_type=order_type, action=ImportChange.Action.CREATED).values(
        "object_id"
    )
    created_interactions = Interaction.objects.filter(
        Q(order__in=created_orders)
        | Q(pk__in=batch.changes.filter(content_type=interaction_type, action=ImportChange.Action.CREATED).values(
            "object_id"
        ))
    )
    _refuse_when_used(Order.objects.filter(pk__in=created_orders), owned=("lines", "interactions"))
    _refuse_when_used(created_interactions, owned=())

    orders = Order.objects.filter(pk__in=batch.changes.filter(content_type=order_type).values("object_id"))
    touched = set(orders.values_list("customer_id", flat=True))
    created_interactions._raw_delete(Interaction.objects.db)
    updates = batch.changes.filter(content_type=order_type, action=ImportChange.Action.UPDATED).order_by("-pk")
    # Latest change first: an order changed by two chunks gets its oldest values last.
    for change in updates.iterator(chunk_size=2_000):
        before: dict[str, Any] = dict(change.before or {})
        lines = before.pop("lines", None)
        if before:
            Order.objects.filter(pk=change.object_id).update(**before, updated_at=timezone.now())
        if "customer_id" in before:
            touched.add(before["customer_id"])
            Interaction.objects.filter(order_id=change.object_id).update(customer_id=before["customer_id"])
        if lines is not None:
            OrderLine.objects.filter(order_id=change.object_id).delete()
            OrderLine.objects.bulk_create(
                OrderLine(order_id=change.object_id, **dict(zip(LINE_COLUMNS, line, strict=True))) for line in lines
            )
    OrderLine.objects.filter(order__in=created_orders)._raw_delete(OrderLine.objects.db)
    Order.objects.filter(pk__in=created_orders)._raw_delete(Order.objects.db)
    customer_metrics_refresh(customer_ids=sorted(touched))
    _last_interaction_recomputed(touched)


def _refuse_when_used(records: QuerySet[Any], *, owned: tuple[str, ...]) -> None:
    """Refuse when rows recorded since point at these records (a follow-up attributed to an order, a stage move or a
    survey about its purchase), whatever their on_delete says: a rollback must not quietly empty a reference. The
    `owned` relations (an order's lines and interactions) go with the records."""
    model: type[Model] = records.model
    blocking = set()
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        if relation.get_accessor_name() in owned or relation.name in owned:
            continue
        related = relation.related_model
        if related._base_manager.filter(**{f"{relation.field.name}__in": records.values("pk")}).exists():
            blocking.add(str(related._meta.verbose_name_plural))
    if blocking:
        raise ApplicationError(
            f"Records added since this import depend on {model._meta.verbose_name_plural} it created "
            f"({', '.join(sorted(blocking))}); the import cannot be rolled back.",
            extra={"blocking": sorted(blocking)},
        )
