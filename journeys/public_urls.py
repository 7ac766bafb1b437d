"""The pages and endpoints clients and the SMS provider reach without a login: the unsubscribe link of a marketing
email, and the provider's inbound SMS (STOP replies). Mounted at the site's root (config/urls.py)."""

from django.urls import path

from journeys import sms_inbound, unsubscribe_views

app_name = "public"

urlpatterns = [
    path("unsubscribe/<str:token>/", unsubscribe_views.unsubscribe, name="unsubscribe"),
    path("sms/inbound/", sms_inbound.sms_inbound, name="sms-inbound"),
]
