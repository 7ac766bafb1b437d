"""The read-only endpoints of touchpoints: the catalogue and the client timeline."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from touchpoints.api.catalogue import ProductViewSet, TouchpointTypeViewSet
from touchpoints.api.timeline import CustomerTimelineView

router = SimpleRouter()
router.register("touchpoint-types", TouchpointTypeViewSet, basename="touchpoint-type")
router.register("products", ProductViewSet, basename="product")

urlpatterns = [
    path(
        "customers/<uuid:public_id>/timeline/", CustomerTimelineView.as_view(), name="customer-timeline"
    ),
    *router.urls,
]
