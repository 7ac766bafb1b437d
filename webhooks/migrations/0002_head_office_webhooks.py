"""Head office reads the webhook log and replays failed deliveries: the Head office group gets those permissions.

Advisors and boutique managers get none of them: the log is not listed for them and answers 403.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

HEAD_OFFICE = "Head office"  # customers/migrations/0004_staff_roles.py
GRANTED = ["view_webhookdelivery", "replay_webhookdelivery"]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=HEAD_OFFICE)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="webhooks", codename__in=GRANTED))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=HEAD_OFFICE):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="webhooks", codename__in=GRANTED))


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("customers", "0004_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
