"""Insight's API: the journey map and the value figures, read from the rollups, within the caller's scope."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customers.models import Customer
from insight.api.serializers import FigureQuerySerializer, FunnelSerializer, KpiSerializer
from insight.selectors.journey_map import journey_funnel, overall_conversion
from insight.selectors.scope import insight_scope
from insight.selectors.value import value_figures
from journeys.models import Journey

INSIGHT_READ = "insight:read"
KPI_PARAMETERS = ("since", "until", "boutique_id")


class InsightJourneyViewSet(viewsets.GenericViewSet):
    """The journey map of one journey."""

    queryset = Journey.objects.all()
    read_scope = INSIGHT_READ
    # Staff read figures about the clients they see.
    permission_model = Customer
    pagination_class = None
    filter_backends: list = []

    @extend_schema(parameters=[FigureQuerySerializer], responses={200: FunnelSerializer})
    @action(detail=True, methods=["get"])
    def funnel(self, request: Request, pk: str | None = None) -> Response:
        """Per stage, the clients who entered it in the period, moved on (and where), dropped, and their time in
        stage: one entry per stage, in order."""
        journey = self.get_object()
        query = FigureQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        slices = query.slices()
        stages = journey_funnel(journey=journey, slices=slices, scope=insight_scope(request.user))
        return Response(FunnelSerializer({
            "journey": journey.pk, "since": slices.since, "until": slices.until,
            "overall_conversion": overall_conversion(stages), "stages": [stage.as_dict() for stage in stages],
        }).data)


class KpiView(APIView):
    """The house's value figures for a period."""

    read_scope = INSIGHT_READ
    permission_model = Customer

    @extend_schema(parameters=[FigureQuerySerializer(names=KPI_PARAMETERS)], responses={200: KpiSerializer})
    def get(self, request: Request) -> Response:
        """Revenue net of returns and cancellations (house currency), purchases, average order value and new
        clients, of the clients the caller sees (and of one home boutique with boutique_id)."""
        query = FigureQuerySerializer(data=request.query_params, names=KPI_PARAMETERS)
        query.is_valid(raise_exception=True)
        slices = query.slices()
        figures = value_figures(slices=slices, scope=insight_scope(request.user))
        return Response(KpiSerializer({"since": slices.since, "until": slices.until, **figures.as_dict()}).data)
