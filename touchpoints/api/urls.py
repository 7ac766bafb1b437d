from rest_framework.routers import SimpleRouter

from touchpoints.api.views import InteractionViewSet, OrderViewSet

router = SimpleRouter()
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("orders", OrderViewSet, basename="order")

urlpatterns = router.urls
