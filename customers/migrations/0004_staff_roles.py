"""The three staff roles as groups with their permissions: advisor, boutique manager, head office.

Which clients each role sees is not a permission but customers.scoping (their boutique, or all for head office).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADVISOR = "Advisor"
BOUTIQUE_MANAGER = "Boutique manager"
HEAD_OFFICE = "Head office"

VIEWED = {
    "customers": ["boutique", "advisor", "persona", "customer", "customeridentity", "consentevent", "segment"],
    "touchpoints": ["touchpointtype", "product", "interaction", "order", "orderline"],
    "journeys": ["journey", "stage", "enrollment", "transition", "followup", "followuptemplate", "followupvariant",
                 "rule"],
    "feedback": ["survey", "invitation", "response"],
}
ADVISOR_EXTRA = [
    "customers.change_customer",  # profile, preferences, notes
    "touchpoints.add_interaction",  # log a visit, a call, a note
    "journeys.change_enrollment",  # move a client to a stage by hand
    "journeys.change_followup",  # record the outcome of a task
]
MANAGER_EXTRA = [
    "customers.merge_customer",
    "customers.export_customer_data",
    "customers.erase_customer",
    "customers.hand_over_clients",
    "customers.view_customermerge",
    "customers.view_clienthandover",
]
HEAD_OFFICE_EXTRA = [
    f"{app}.{action}_{model}"
    for app, models in {
        "customers": ["boutique", "advisor", "persona", "segment"],
        "touchpoints": ["touchpointtype", "product"],
        "journeys": ["journey", "stage", "rule", "followuptemplate", "followupvariant"],
        "feedback": ["survey"],
    }.items()
    for model in models
    for action in ("add", "change")
]


def permissions_of(role: str) -> list[str]:
    viewed = [f"{app}.view_{model}" for app, models in VIEWED.items() for model in models]
    granted = viewed + ADVISOR_EXTRA
    if role in (BOUTIQUE_MANAGER, HEAD_OFFICE):
        granted += MANAGER_EXTRA
    if role == HEAD_OFFICE:
        granted += HEAD_OFFICE_EXTRA
    return granted


def install(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in (ADVISOR, BOUTIQUE_MANAGER, HEAD_OFFICE):
        wanted = permissions_of(role)
        permissions = [
            Permission.objects.get(content_type__app_label=label.split(".")[0], codename=label.split(".")[1])
            for label in wanted
        ]
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(permissions)


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[ADVISOR, BOUTIQUE_MANAGER, HEAD_OFFICE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0003_staff_scope_and_history"),
        ("touchpoints", "0002_standard_touchpoint_types"),
        ("journeys", "0003_admin_sort_indexes"),
        ("feedback", "0002_admin_sort_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(install, remove)]
