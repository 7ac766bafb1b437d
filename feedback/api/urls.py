from rest_framework.routers import SimpleRouter

from feedback.api.views import ResponseViewSet

router = SimpleRouter()
router.register("responses", ResponseViewSet, basename="response")

urlpatterns = router.urls
