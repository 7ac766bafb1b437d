from django.urls import path
from rest_framework.routers import SimpleRouter

from insight.api.views import InsightJourneyViewSet, KpiView

router = SimpleRouter()
router.register("insight/journeys", InsightJourneyViewSet, basename="insight-journey")

urlpatterns = [*router.urls, path("insight/kpis/", KpiView.as_view(), name="insight-kpis")]
