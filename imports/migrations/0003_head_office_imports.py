"""Head office brings legacy files in and takes imports back: the Head office group gets the imports' permissions.

Advisors and boutique managers get none of them: the import pages are not listed for them and answer 403.
"""

from django.db import migrations

from core.group_permissions import group_permissions_operation

HEAD_OFFICE = "Head office"  # customers/migrations/0004_staff_roles.py
GRANTED = ["view_importbatch", "add_importbatch", "rollback_importbatch"]


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0002_progress_and_rollback_permission"),
        ("customers", "0004_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [group_permissions_operation("imports", HEAD_OFFICE, GRANTED)]
