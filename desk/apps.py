from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DeskConfig(AppConfig):
    """The clienteling desk: the staff pages that bring every app together (the client page, the advisor's day)."""

    # This module holds two configs; "desk" in INSTALLED_APPS means this one.
    default = True
    name = "desk"
    verbose_name = "Clienteling"


class AtelierAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with Atelier's site (desk.site), whose index is the advisor's day.

    Named in INSTALLED_APPS instead of "django.contrib.admin". `default = False` keeps Django from taking it for
    the desk app's own config. The admin module is imported as a module, not the class, for the same reason:
    Django looks for configs among the classes of desk.apps, and AdminConfig says it is a default.
    """

    default = False
    default_site = "desk.site.AtelierAdminSite"
