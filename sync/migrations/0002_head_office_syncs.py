"""Head office configures connectors, reads the sync log and starts syncs: the Head office group gets those
permissions. Advisors and boutique managers get none of them."""

from django.db import migrations

from core.group_permissions import group_permissions_operation

HEAD_OFFICE = "Head office"  # customers/migrations/0004_staff_roles.py
GRANTED = [
    "view_connectorsetting", "add_connectorsetting", "change_connectorsetting", "view_syncrun", "sync_now",
    "view_syncrejection",
]


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0001_initial"),
        ("customers", "0004_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [group_permissions_operation("sync", HEAD_OFFICE, GRANTED)]
