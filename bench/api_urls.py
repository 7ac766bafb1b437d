"""URLs for bench/api_load.py: the real API, plus plain ModelViewSets with default serializers as the baseline."""

from django.urls import include, path
from rest_framework import permissions, serializers, viewsets
from rest_framework.routers import SimpleRouter

from customers.models import Customer
from touchpoints.models import Interaction


class PlainCustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = "__all__"


class PlainInteractionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interaction
        fields = "__all__"


class PlainCustomerViewSet(viewsets.ModelViewSet):
    """What `ModelViewSet` gives with a default serializer: no scoping, no select_related, page-number pages."""

    queryset = Customer.objects.order_by("pk")
    serializer_class = PlainCustomerSerializer
    filterset_fields = ["home_boutique", "value_tier"]
    permission_classes = [permissions.IsAuthenticated]


class PlainInteractionViewSet(viewsets.ModelViewSet):
    queryset = Interaction.objects.order_by("-occurred_at", "-pk")
    serializer_class = PlainInteractionSerializer
    filterset_fields = ["customer"]
    permission_classes = [permissions.IsAuthenticated]


router = SimpleRouter()
router.register("customers", PlainCustomerViewSet, basename="plain-customer")
router.register("interactions", PlainInteractionViewSet, basename="plain-interaction")

urlpatterns = [
    path("api/v1/", include("config.api_urls")),
    path("plain/", include(router.urls)),
]
