"""Head office manages the integrations' API keys (create, change scopes and boutiques, revoke): the Head office
group gets those permissions. Advisors and boutique managers get none (a key is a credential of the whole house)."""

from django.db import migrations

from core.group_permissions import group_permissions_operation

HEAD_OFFICE = "Head office"  # customers/migrations/0004_staff_roles.py


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("customers", "0004_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [
        group_permissions_operation("integrations", HEAD_OFFICE, ["view_apikey", "add_apikey", "change_apikey"]),
    ]
