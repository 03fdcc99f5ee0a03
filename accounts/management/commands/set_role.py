"""Give a user exactly one role from the server's shell (the way to change another administrator)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.roles import ROLE_ORDER, Role
from accounts.services import user_role_set


class Command(BaseCommand):
    help = "Set a user's role (investor, analyst, operator, administrator). Audited as a command."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("role", choices=[r.value for r in ROLE_ORDER])

    def handle(self, *args: Any, username: str, role: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        user_role_set(user=user, role=Role(role))
        self.stdout.write(self.style.SUCCESS(f"{username} is now {role}."))
