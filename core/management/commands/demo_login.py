"""Print the logins of the demo (and make sure the admin login works with the printed password)."""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from core.management.commands.seed_demo import DEFAULT_PASSWORD
from customers.models import Advisor


class Command(BaseCommand):
    help = "Create or reset the demo admin login and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD))
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/")

    def handle(self, *args, password: str, url: str, **options):
        User = get_user_model()
        admin, _ = User.objects.get_or_create(
            username="admin", defaults={"email": "admin@atelier.example", "first_name": "Atelier", "last_name": "Admin"}
        )
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save()

        logins = [("admin", "superuser")]
        for role in (Advisor.Role.HEAD_OFFICE, Advisor.Role.BOUTIQUE_MANAGER, Advisor.Role.ADVISOR):
            advisor = Advisor.objects.filter(role=role, is_active=True).select_related("user", "boutique").first()
            if advisor is not None:
                advisor.user.set_password(password)
                advisor.user.save(update_fields=["password"])
                where = f", {advisor.boutique.name}" if advisor.boutique else ""
                logins.append((advisor.user.get_username(), f"{advisor.get_role_display().lower()}{where}"))

        self.stdout.write(self.style.SUCCESS(f"\nAtelier demo: {url}"))
        for username, what in logins:
            self.stdout.write(f"  {username:<22} password: {password:<20} ({what})")
        self.stdout.write("")
