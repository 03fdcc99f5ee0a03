"""Create (or reset) the demo investor that ``make run`` prints credentials for."""

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import InvestmentExperience, RiskTolerance


class Command(BaseCommand):
    help = "Create the demo investor (or reset its password) and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", help="Use this password instead of a freshly generated one.")

    def handle(self, *args: Any, username: str, password: str | None, **options: Any) -> None:
        password = password or secrets.token_urlsafe(12)
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.com",
                    "risk_tolerance": RiskTolerance.MODERATE,
                    "investment_experience": InvestmentExperience.INTERMEDIATE,
                },
            )
            # The password is validated like any other (length, common, similarity).
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
            user.set_password(password)
            user.save()
        verb = "Created" if created else "Reset the password of"
        self.stdout.write(self.style.SUCCESS(f"{verb} the demo investor."))
        self.stdout.write(f"  username: {username}\n  password: {password}")
