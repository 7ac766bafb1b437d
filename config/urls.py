from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from insight.pages import journey_map_view

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Insight's journey map, behind the admin's login (before admin/, whose app index would take /admin/insight/).
    path("admin/insight/", admin.site.admin_view(journey_map_view), name="insight-journey-map"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("webhooks/", include("webhooks.urls")),
    path("", include("journeys.public_urls")),
    path("", include("feedback.public_urls")),
]

handler400 = "core.api.bad_request"
handler404 = "core.api.page_not_found"
