"""How a researcher gets into the admin on a fresh database: the first run makes an account and
prints it; later runs say who can log in and how to reset a password."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Make the first admin account if there is none, and say how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/admin/", help="where the admin is served")

    def handle(self, *args, url: str, **options):
        users = get_user_model().objects
        admins = list(users.filter(is_superuser=True, is_active=True).values_list("username", flat=True)[:5])
        if admins:
            self.stdout.write(
                f"Admin: {url} — log in as {', '.join(admins)} (forgotten? python manage.py changepassword {admins[0]})"
            )
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser("admin", email="", password=password)
        self.stdout.write(f"Admin: {url} — log in as admin / {password} (made now; change it in the admin)")
