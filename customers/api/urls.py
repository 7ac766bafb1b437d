from rest_framework.routers import SimpleRouter

from customers.api.views import AdvisorViewSet, BoutiqueViewSet, CustomerViewSet, PersonaViewSet, SegmentViewSet

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("boutiques", BoutiqueViewSet, basename="boutique")
router.register("advisors", AdvisorViewSet, basename="advisor")
router.register("personas", PersonaViewSet, basename="persona")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = router.urls
