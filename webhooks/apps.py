from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Ecommerce webhooks (Shopify-style, WooCommerce): signed deliveries in, kept in a log, mapped onto clients,
    orders and abandoned carts through the same services as every other entry point."""

    name = "webhooks"
    verbose_name = "Ecommerce webhooks"
