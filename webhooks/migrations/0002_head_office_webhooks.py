"""Head office reads the webhook log and replays failed deliveries: the Head office group gets those permissions.

Advisors and boutique managers get none of them: the log is not listed for them and answers 403.
"""

from django.db import migrations

from core.group_permissions import group_permissions_operation

HEAD_OFFICE = "Head office"  # customers/migrations/0004_staff_roles.py
GRANTED = ["view_webhookdelivery", "replay_webhookdelivery"]


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("customers", "0004_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [group_permissions_operation("webhooks", HEAD_OFFICE, GRANTED)]
