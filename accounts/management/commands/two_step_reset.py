"""Turn two-step sign-in off for someone who lost both their phone and their recovery codes."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from accounts.two_step import two_step_reset


class Command(BaseCommand):
    help = (
        "Turn off a user's two-step sign-in (authenticator and recovery codes) and end their sessions and "
        "API tokens; they sign in with the password and set it up again. Audited as a command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if two_step_reset(user=user):
            self.stdout.write(self.style.SUCCESS(f"Two-step sign-in is off for {username}; their sessions and tokens ended."))
        else:
            self.stdout.write(f"{username} had no two-step sign-in.")
