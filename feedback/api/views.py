"""Feedback's API: survey answers, listed within the caller's reach, and recorded (or completed) one at a time
through feedback.services.response_upsert, the service the survey tools' webhooks call."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from core.errors import ApplicationError
from core.idempotency import idempotent
from core.querystrings import GIVE_ONCE, repeated
from customers.models import Customer
from customers.scoping import may_read_clients, visible_boutique_ids
from customers.services import customer_find
from feedback.api.serializers import NpsReportSerializer, ResponseInputSerializer, ResponseSerializer
from feedback.filters import ResponseFilterSet
from feedback.models import Response, Survey
from feedback.selectors import NPS_GROUPS, nps_by
from feedback.services import ResponseOutcome, response_upsert

UNKNOWN_CLIENT = "No client answers to this among those you may reach."


def _client(request: Request, data: dict[str, Any]) -> Customer:
    """The client the body names, found (never created) within the caller's reach; 404 otherwise, as the other
    write endpoints answer a client out of reach."""
    identity = data.get("client") or {}
    if not data.get("customer") and not identity:
        raise ApplicationError.for_field("customer", "Name the client: their id (customer) or identity (client).")
    if identity.get("external_id") and not identity.get("system"):
        raise ApplicationError.for_field("client.system", "Say which system the client's id comes from.")
    try:
        customer = customer_find(
            public_id=str(data["customer"]) if data.get("customer") else None,
            identities={identity["system"]: identity["external_id"]} if identity.get("external_id") else None,
            email=identity.get("email"), phone=identity.get("phone"),
        )
    except ApplicationError as error:
        field = "customer" if data.get("customer") else "client"
        raise ApplicationError.for_field(field, error.message) from None
    reach = visible_boutique_ids(request.user)
    if customer is None or (reach is not None and customer.home_boutique_id not in reach):
        raise exceptions.NotFound(UNKNOWN_CLIENT)
    return customer


class ResponseViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Survey answers, newest first: those of the clients the caller may see."""

    queryset = Response.objects.all()
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilterSet
    ordering = ("-responded_at", "-pk")
    ordering_fields = ["responded_at", "score"]
    read_scope = "customers:read"
    write_scope = "feedback:write"

    def get_queryset(self):
        return (
            Response.objects.visible_to(self.request.user)
            .select_related("survey", "customer__home_boutique")
            .order_by("-responded_at", "-pk")
        )

    @extend_schema(request=ResponseInputSerializer, responses={201: ResponseSerializer, 200: ResponseSerializer})
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> ApiResponse:
        """Record one answer (201). The same (source, external_id) again answers 200: unchanged, or completed with
        what it adds (a comment, answers, a changed score); never a second answer."""
        serializer = ResponseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            survey = Survey.objects.filter(pk=data["survey"]).first()
            if survey is None:
                raise ApplicationError.for_field("survey", f"No survey has the id {data['survey']}.")
            result = response_upsert(
                survey=survey, customer=_client(request, data), source=data["source"],
                external_id=data["external_id"], score=data["score"], responded_at=data["responded_at"],
                comment=data["comment"], answers=data.get("answers"),
            )
        code = status.HTTP_201_CREATED if result.outcome == ResponseOutcome.CREATED else status.HTTP_200_OK
        answer = self.get_queryset().get(pk=result.response.pk)
        return ApiResponse(ResponseSerializer(answer, context={"shows_clients": may_read_clients(request.user)}).data,
                           status=code)

    @extend_schema(
        parameters=[OpenApiParameter("group_by", str, enum=list(NPS_GROUPS), required=True,
                                     description="One NPS per survey, client's boutique, client's advisor or month.")],
        responses={200: NpsReportSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def nps(self, request: Request) -> ApiResponse:
        """The NPS of the answers the list's filters select (NPS surveys only), per survey, boutique, advisor or
        month, with n, its 95% confidence interval, and a warning under 30 answers."""
        group_by = request.query_params.get("group_by", "")
        if repeated(request.query_params, ["group_by"]):
            raise exceptions.ValidationError({"group_by": [GIVE_ONCE]})
        if group_by not in NPS_GROUPS:
            raise exceptions.ValidationError({"group_by": [f"Give one of {', '.join(NPS_GROUPS)}."]})
        figures = nps_by(responses=self.filter_queryset(self.get_queryset()), group_by=group_by)
        return ApiResponse(NpsReportSerializer({"group_by": group_by, "results": figures}).data)
