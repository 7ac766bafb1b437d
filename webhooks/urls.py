from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("shopify/", views.shopify_webhook, name="shopify"),
    path("woocommerce/", views.woocommerce_webhook, name="woocommerce"),
    path("typeform/", views.typeform_webhook, name="typeform"),
    path("surveys/", views.survey_webhook, name="surveys"),
]
