"""Create the role groups and (re)apply their permissions from accounts.roles.ROLE_PERMISSIONS."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts.roles import roles_sync


class Command(BaseCommand):
    help = "Create the investor/analyst/operator/administrator groups and set their permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in roles_sync().items():
            self.stdout.write(f"{role}: {count} permissions")
