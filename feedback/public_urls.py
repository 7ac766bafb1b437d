"""The survey page clients reach without a login, mounted at the site's root (config/urls.py)."""

from django.urls import path

from feedback import public_views

app_name = "survey"

urlpatterns = [
    path("s/<str:token>/", public_views.answer, name="answer"),
]
