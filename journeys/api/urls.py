from rest_framework.routers import SimpleRouter

from journeys.api.views import EnrollmentViewSet, JourneyViewSet

router = SimpleRouter()
router.register("journeys", JourneyViewSet, basename="journey")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")

urlpatterns = router.urls
