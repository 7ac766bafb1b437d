"""Head office opens the schedule a connector links to (its django-celery-beat periodic task and interval), read
only: the connector's settings keep the schedule in step, so it is changed there, not on the task."""

from django.db import migrations

from core.group_permissions import group_permissions_operation

HEAD_OFFICE = "Head office"  # customers/migrations/0004_staff_roles.py


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0002_head_office_syncs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [
        group_permissions_operation(
            "django_celery_beat", HEAD_OFFICE, ["view_periodictask", "view_intervalschedule", "view_crontabschedule"]
        ),
    ]
