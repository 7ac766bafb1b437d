from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Ecommerce webhooks (Shopify-style, WooCommerce) and survey tools' (Typeform, Standard Webhooks): signed
    deliveries in, kept in a log, mapped onto clients, orders, abandoned carts and survey answers through the same
    services as every other entry point."""

    name = "webhooks"
    verbose_name = "Ecommerce webhooks"
