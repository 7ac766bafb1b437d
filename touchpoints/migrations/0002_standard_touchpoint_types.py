"""Installs the standard touchpoint types every house starts with (editable afterwards in the admin)."""

from django.db import migrations

# code, name, channel, kind, the lifecycle stage it usually signals
STANDARD_TYPES = [
    ("store_visit", "Store visit", "boutique", "physical", "consideration"),
    ("appointment", "Appointment", "boutique", "physical", "consideration"),
    ("phone_call", "Phone call", "phone", "physical", "post_purchase"),
    ("advisor_note", "Advisor note", "boutique", "physical", ""),
    ("repair_service", "Repair or after-sales service", "boutique", "physical", "post_purchase"),
    ("event_attended", "Event attended", "event", "physical", "loyalty"),
    ("product_view", "Product viewed online", "web", "digital", "awareness"),
    ("wishlist_added", "Added to wishlist", "web", "digital", "consideration"),
    ("cart_abandoned", "Cart abandoned", "web", "digital", "consideration"),
    ("newsletter_signup", "Newsletter sign-up", "web", "digital", "awareness"),
    ("email_opened", "Email opened", "email", "digital", "awareness"),
    ("email_clicked", "Email clicked", "email", "digital", "consideration"),
    ("message_exchanged", "Messaging conversation", "messaging", "digital", "consideration"),
    ("social_engagement", "Social media engagement", "social", "digital", "awareness"),
    ("referral", "Referred a new client", "social", "digital", "advocacy"),
    ("survey_answered", "Survey answered", "email", "digital", "post_purchase"),
    ("purchase", "Purchase", "boutique", "transactional", "purchase"),
    ("return", "Return", "boutique", "transactional", "post_purchase"),
]


def install(apps, schema_editor):
    TouchpointType = apps.get_model("touchpoints", "TouchpointType")
    for code, name, channel, kind, stage in STANDARD_TYPES:
        TouchpointType.objects.update_or_create(
            code=code, defaults={"name": name, "channel": channel, "kind": kind, "usual_stage": stage}
        )


def remove(apps, schema_editor):
    TouchpointType = apps.get_model("touchpoints", "TouchpointType")
    TouchpointType.objects.filter(code__in=[row[0] for row in STANDARD_TYPES], interactions__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("touchpoints", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
