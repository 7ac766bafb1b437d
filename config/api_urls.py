"""/api/v1/: every app's API urls, the OpenAPI schema and its documentation page."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

# Each app's api/urls.py joins here (customers, touchpoints, journeys, webhooks ...): path("", include("x.api.urls")).
app_urls: list = [
    path("", include("customers.api.urls")),
    path("", include("touchpoints.api.read_urls")),
    path("", include("touchpoints.api.urls")),
    path("", include("journeys.api.urls")),
    path("", include("insight.api.urls")),
    path("", include("feedback.api.urls")),
]

urlpatterns = [
    *app_urls,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from its own URL: no inline script for the CSP to refuse.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
