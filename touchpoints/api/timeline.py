"""GET /customers/{id}/timeline/: a client's interactions, orders, stage moves and answers, newest first.

Cursor paginated by touchpoints.selectors.customer_timeline. Each kind of entry has its serializer; higher apps
(journeys, feedback) add theirs with `register_timeline_serializer` in their AppConfig.ready(). A kind without one
shows its id and a one-line summary.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from core.querystrings import GIVE_ONCE, count, repeated
from customers.models import Customer
from touchpoints.models import Interaction
from touchpoints.selectors import customer_timeline

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class TimelineInteractionSerializer(serializers.ModelSerializer):
    touchpoint_type = serializers.SlugRelatedField(slug_field="code", read_only=True)
    boutique = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    advisor = serializers.CharField(source="advisor.__str__", read_only=True, allow_null=True, default=None)
    order = serializers.CharField(source="order.external_id", read_only=True, allow_null=True, default=None)
    metadata = serializers.DictField(read_only=True)

    class Meta:
        model = Interaction
        fields = [
            "id", "touchpoint_type", "occurred_at", "channel", "boutique", "advisor", "source", "external_id",
            "amount", "currency", "order", "metadata",
        ]


_serializers: dict[str, type[serializers.BaseSerializer]] = {"interaction": TimelineInteractionSerializer}


def register_timeline_serializer(kind: str, serializer_class: type[serializers.BaseSerializer]) -> None:
    _serializers[kind] = serializer_class


class TimelineEntrySerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="interaction, transition, followup, response …")
    occurred_at = serializers.DateTimeField()
    id = serializers.IntegerField(source="pk")
    item = serializers.SerializerMethodField(help_text="The entry itself; its fields depend on `kind`.")

    def get_item(self, entry: Any) -> dict[str, Any]:
        serializer_class = _serializers.get(entry.kind)
        if serializer_class is None:
            return {"id": entry.pk, "summary": str(entry.item)}
        return serializer_class(entry.item, context=self.context).data


class CustomerTimelineView(generics.GenericAPIView):
    """One page of a client's timeline, newest first; follow `next` for older entries."""

    permission_model = Customer
    read_scope = "customers:read"
    serializer_class = TimelineEntrySerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self) -> Any:
        return Customer.objects.visible_to(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="The `next` cursor of the previous page."),
            OpenApiParameter(
                "kind", str, many=True, explode=True,
                description="Only these kinds of entry (interaction, transition, followup, response); repeat it.",
            ),
            OpenApiParameter("page_size", int, description=f"Entries per page (1 to {MAX_PAGE_SIZE}, default "
                             f"{DEFAULT_PAGE_SIZE})."),
        ],
        responses=inline_serializer(
            "TimelinePage",
            fields={
                "next": serializers.URLField(allow_null=True),
                "results": TimelineEntrySerializer(many=True),
            },
        ),
    )
    def get(self, request: Request, public_id: str) -> Response:
        customer = get_object_or_404(self.get_queryset(), public_id=public_id)
        twice = repeated(request.query_params, ["page_size", "cursor"])
        if twice:
            raise ValidationError({name: [GIVE_ONCE] for name in twice})
        page_size = request.query_params.get("page_size")
        limit = DEFAULT_PAGE_SIZE if page_size is None else count(page_size)
        if limit is None:
            raise ValidationError({"page_size": ["Give a page size: a whole number from 1."]})
        limit = min(limit, MAX_PAGE_SIZE)
        page = customer_timeline(
            customer=customer,
            cursor=request.query_params.get("cursor") or None,
            limit=limit,
            kinds=request.query_params.getlist("kind") or None,
        )
        next_url = (
            replace_query_param(request.build_absolute_uri(), "cursor", page.next_cursor) if page.next_cursor else None
        )
        entries = self.get_serializer(page.entries, many=True).data
        return Response({"next": next_url, "results": entries})
