"""Read endpoints of clients and the house's reference data. Who sees which rows is customers.scoping's rule."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from rest_framework import viewsets

from customers.api.serializers import (
    AdvisorSerializer,
    BoutiqueSerializer,
    CustomerDetailSerializer,
    CustomerSerializer,
    PersonaSerializer,
    SegmentSerializer,
)
from customers.filters import AdvisorFilterSet, CustomerFilterSet
from customers.models import Advisor, Boutique, Customer, CustomerIdentity, Persona, Segment


class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Clients: filter, search (`q`) and order; a client outside the caller's boutiques is a 404."""

    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    ordering_fields = ["last_name", "created_at", "updated_at", "lifetime_value", "last_order_at", "order_count"]
    lookup_field = "public_id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    read_scope = "customers:read"

    def get_queryset(self) -> QuerySet[Customer]:
        return (
            Customer.objects.visible_to(self.request.user)
            .select_related("home_boutique", "advisor__user", "persona")
            .prefetch_related(Prefetch("identities", queryset=CustomerIdentity.objects.order_by("system", "pk")))
        )

    def get_serializer_class(self) -> type[CustomerSerializer]:
        return CustomerDetailSerializer if self.action == "retrieve" else CustomerSerializer


class BoutiqueViewSet(viewsets.ReadOnlyModelViewSet):
    """The house's boutiques."""

    queryset = Boutique.objects.all()
    serializer_class = BoutiqueSerializer
    filterset_fields = ["country", "code"]
    ordering_fields = ["name", "code", "country"]
    read_scope = "customers:read"


class AdvisorViewSet(viewsets.ReadOnlyModelViewSet):
    """Staff roles; advisors and managers see their boutique's, head office and keys for every boutique all."""

    queryset = Advisor.objects.all()
    serializer_class = AdvisorSerializer
    filterset_class = AdvisorFilterSet
    ordering_fields = ["user__last_name", "role"]
    read_scope = "customers:read"

    def get_queryset(self) -> QuerySet[Advisor]:
        return Advisor.objects.visible_to(self.request.user).select_related("user")


class PersonaViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Persona.objects.all()
    serializer_class = PersonaSerializer
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_fields = ["slug"]
    read_scope = "customers:read"


class SegmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Segment.objects.all()
    serializer_class = SegmentSerializer
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    filterset_fields = ["slug"]
    read_scope = "customers:read"
