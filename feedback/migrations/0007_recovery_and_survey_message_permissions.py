"""Staff see service recovery and survey messages: every role views recovery cases and their steps, reminders and
referral asks and the root causes; head office edits the root causes (the list cases are closed with)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEWED = ["recoverycase", "recoveryevent", "surveymessage", "rootcause"]
ROLES = ("Advisor", "Boutique manager", "Head office")


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    app_config = apps.get_app_config("feedback")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    viewed = list(Permission.objects.filter(content_type__app_label="feedback",
                                            codename__in=[f"view_{model}" for model in VIEWED]))
    edited = list(Permission.objects.filter(content_type__app_label="feedback",
                                            codename__in=["add_rootcause", "change_rootcause"]))
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.add(*viewed, *(edited if group.name == "Head office" else []))


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0006_sending_reminders_referrals_recovery_sla"),
        ("customers", "0004_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
