"""Data migrations that give a staff role group some of an app's permissions (and take them back).

    operations = [group_permissions_operation("imports", "Head office", ["view_importbatch", ...])]
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations


def group_permissions_operation(app_label: str, group_name: str, codenames: list[str]) -> migrations.RunPython:
    """A RunPython granting `group_name` the app's permissions `codenames`, reversed by removing them."""

    def grant(apps, schema_editor):
        # Permissions are normally created after all migrations; the group needs them now.
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=group_name)
        group.permissions.add(*_permissions(apps))

    def revoke(apps, schema_editor):
        for group in apps.get_model("auth", "Group").objects.filter(name=group_name):
            group.permissions.remove(*_permissions(apps))

    def _permissions(apps):
        return apps.get_model("auth", "Permission").objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )

    return migrations.RunPython(grant, revoke)
