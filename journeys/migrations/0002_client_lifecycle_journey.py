"""Installs the default "Client lifecycle" journey with its six stages."""

from django.db import migrations

# key, name, target days in stage, expected touchpoint types, description
STAGES = [
    ("awareness", "Awareness", 30, ["product_view", "newsletter_signup", "social_engagement", "email_opened"],
     "Knows the house; has not yet shown interest in a piece."),
    ("consideration", "Consideration", 30, ["store_visit", "appointment", "wishlist_added", "cart_abandoned"],
     "Interested: visits, appointments, wishlists, carts."),
    ("purchase", "Purchase", 7, ["purchase"], "Has just bought."),
    ("post_purchase", "Post-purchase", 60, ["phone_call", "survey_answered", "repair_service"],
     "After the sale: thanks, care, feedback."),
    ("loyalty", "Loyalty", 365, ["purchase", "event_attended"], "Buys again; part of the house's circle."),
    ("advocacy", "Advocacy", None, ["referral"], "Recommends the house to others."),
]


def install(apps, schema_editor):
    Journey = apps.get_model("journeys", "Journey")
    Stage = apps.get_model("journeys", "Stage")
    TouchpointType = apps.get_model("touchpoints", "TouchpointType")
    journey, _ = Journey.objects.get_or_create(
        slug="client-lifecycle",
        defaults={
            "name": "Client lifecycle",
            "description": "From first awareness of the house to advocacy: the journey every client is in.",
        },
    )
    for position, (key, name, target_days, expected, description) in enumerate(STAGES, start=1):
        stage, _ = Stage.objects.update_or_create(
            journey=journey,
            key=key,
            defaults={"name": name, "position": position, "target_days": target_days, "description": description},
        )
        stage.expected_touchpoint_types.set(TouchpointType.objects.filter(code__in=expected))


def remove(apps, schema_editor):
    apps.get_model("journeys", "Journey").objects.filter(slug="client-lifecycle", enrollments__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_initial"), ("touchpoints", "0002_standard_touchpoint_types")]
    operations = [migrations.RunPython(install, remove)]
