"""Touchpoints' API: interactions and orders, read and written (one or up to 1,000 at a time).

Writes go through touchpoints.services.bulk, the same rules as the admin and the importer; the client an item
names must be within the caller's reach (customers.scoping), or the single write answers 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.idempotency import idempotent
from core.pagination import CursorPagination
from customers.scoping import may_read_clients, may_write_clients, visible_boutique_ids
from touchpoints.api.serializers import (
    BulkInteractionsRequestSerializer,
    BulkOrdersRequestSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    InteractionInputSerializer,
    InteractionSerializer,
    OrderInputSerializer,
    OrderSerializer,
)
from touchpoints.filters import InteractionFilterSet, OrderFilterSet
from touchpoints.models import Interaction, Order
from touchpoints.services.bulk import ItemResult, ItemStatus, interactions_record_bulk, orders_record_bulk

CLIENTS_READ = "customers:read"


def single_result(result: ItemResult) -> int:
    """The status of a single write, from its item result: 201 created, 200 a replay or an update; refusals raise
    (404 for a client out of reach, 400 with the fields otherwise)."""
    if result.status == ItemStatus.INVALID:
        if result.is_client_unknown:
            raise exceptions.NotFound(result.message)
        raise exceptions.ValidationError(result.errors)
    return status.HTTP_201_CREATED if result.status == ItemStatus.CREATED else status.HTTP_200_OK


def bulk_response(results: list[ItemResult]) -> Response:
    """One result per item; 207 when some items were refused, so a caller that only reads the status notices."""
    counts = dict.fromkeys([ItemStatus.CREATED, ItemStatus.UPDATED, ItemStatus.UNCHANGED, ItemStatus.INVALID], 0)
    for result in results:
        counts[result.status] += 1
    body = {**counts, "results": [result.as_dict() for result in results]}
    return Response(body, status=status.HTTP_207_MULTI_STATUS if counts[ItemStatus.INVALID] else status.HTTP_200_OK)


def writer_reach(request: Request) -> dict[str, Any]:
    """What the caller's writes may reach: the clients of their boutiques, and finding clients by identity only
    with customers:write."""
    return {"boutique_ids": visible_boutique_ids(request.user), "may_write_clients": may_write_clients(request.user)}


def shown(request: Request) -> dict[str, bool]:
    return {"shows_clients": may_read_clients(request.user)}


def bulk_items(request: Request) -> list[Any]:
    serializer = BulkRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["items"]


class InteractionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Touchpoints on clients' timelines, newest first (cursor pagination)."""

    queryset = Interaction.objects.all()
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilterSet
    pagination_class = CursorPagination
    ordering = ("-occurred_at", "-pk")
    ordering_fields: list[str] = []
    read_scope = CLIENTS_READ
    write_scope = "interactions:write"

    def get_queryset(self):
        return (
            Interaction.objects.visible_to(self.request.user)
            .select_related("customer", "touchpoint_type", "boutique")
            .order_by("-occurred_at", "-pk")
        )

    @extend_schema(request=InteractionInputSerializer, responses={201: InteractionSerializer,
                                                                  200: InteractionSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record one interaction. The same (source, external_id) again changes nothing and answers 200."""
        [result] = interactions_record_bulk(items=[request.data], **writer_reach(request))
        code = single_result(result)
        interaction = self.get_queryset().filter(pk=result.record_id).first()
        if interaction is None:
            # A replay of an interaction recorded for a client out of the caller's reach: never shown.
            raise exceptions.NotFound("No such interaction.")
        return Response(InteractionSerializer(interaction, context=shown(request)).data, status=code)

    @extend_schema(request=BulkInteractionsRequestSerializer,
                   responses={200: BulkResponseSerializer,
                              207: OpenApiResponse(BulkResponseSerializer, description="Some items were refused.")})
    @action(detail=False, methods=["post"])
    @idempotent
    def bulk(self, request: Request) -> Response:
        """Record up to 1,000 interactions: one result per item (created, unchanged, or invalid with its errors);
        the valid items are written whatever the others."""
        results = interactions_record_bulk(items=bulk_items(request), **writer_reach(request))
        return bulk_response(results)


class OrderViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Sales from the POS and ecommerce with their lines, newest first."""

    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    filterset_class = OrderFilterSet
    ordering = ("-placed_at", "-pk")
    ordering_fields = ["placed_at", "updated_at", "total"]
    read_scope = CLIENTS_READ
    write_scope = "orders:write"

    def get_queryset(self):
        return (
            Order.objects.visible_to(self.request.user)
            .select_related("customer", "boutique")
            .prefetch_related("lines")
            .order_by("-placed_at", "-pk")
        )

    @extend_schema(request=OrderInputSerializer, responses={201: OrderSerializer, 200: OrderSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record one order, or update it (same source and external_id with another status or other lines: 200)."""
        [result] = orders_record_bulk(items=[request.data], **writer_reach(request))
        code = single_result(result)
        order = self.get_queryset().get(pk=result.record_id)
        return Response(OrderSerializer(order, context=shown(request)).data, status=code)

    @extend_schema(request=BulkOrdersRequestSerializer,
                   responses={200: BulkResponseSerializer,
                              207: OpenApiResponse(BulkResponseSerializer, description="Some items were refused.")})
    @action(detail=False, methods=["post"])
    @idempotent
    def bulk(self, request: Request) -> Response:
        """Record up to 1,000 orders: one result per item (created, updated, unchanged, or invalid with its
        errors); the valid orders are written whatever the others."""
        results = orders_record_bulk(items=bulk_items(request), **writer_reach(request))
        return bulk_response(results)
