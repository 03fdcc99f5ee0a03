"""Create (or reset) the demo investor that ``make run`` prints credentials for.

A new demo investor goes through the same onboarding services as a person would: registration,
the risk questionnaire (answers that score Moderate), starting cash, and completion. Its portfolio
then gets a year of history (``portfolios.demo``): the starting cash deposited a year ago, a top-up
and about a dozen trades at the stored closes. Without a year of prices it starts with the cash
alone. Running the command again resets the password and adds the history if it is missing and
can still go in (the ledger is kept in time order).
"""

import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from portfolios.demo import demo_history_create
from portfolios.models import TradeSource
from portfolios.services import cash_deposit
from quantai.errors import ApplicationError

#: Answers that score Moderate with two to five years of stock experience.
DEMO_ANSWERS = {
    "horizon": "5_to_10y",
    "drawdown_reaction": "hold",
    "income_stability": "stable",
    "experience": "2_to_5y",
    "savings_share": "25_to_50",
    "goal": "balanced",
    "check_frequency": "weekly",
}
DEMO_STARTING_CASH = Decimal("100000.00")


class Command(BaseCommand):
    help = "Create the demo investor (or reset its password) and print its credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", help="Use this password instead of a freshly generated one.")

    def handle(self, *args: Any, username: str, password: str | None, **options: Any) -> None:
        password = password or secrets.token_urlsafe(12)
        User = get_user_model()
        history = None
        try:
            with transaction.atomic():
                user = User.objects.filter(username=username).first()
                created = user is None
                if user is None:
                    user = services.user_register(username=username, email=f"{username}@example.com", password=password)
                    services.questionnaire_submit(user=user, answers=DEMO_ANSWERS)
                    services.starting_cash_set(user=user, amount=DEMO_STARTING_CASH)
                    services.onboarding_complete(user=user)
                    onboarding_key = f"onboarding:{user.pk}"
                    history = demo_history_create(user=user, first_deposit_key=onboarding_key)
                    # With the history, this is its first entry again (a replay); without it, the cash arrives now.
                    cash_deposit(
                        user=user,
                        amount=DEMO_STARTING_CASH,
                        idempotency_key=onboarding_key,
                        source=TradeSource.ONBOARDING,
                    )
                else:
                    validate_password(password, user)
                    user.set_password(password)
                    user.save(update_fields=["password"])
                    history = demo_history_create(user=user, first_deposit_key=f"onboarding:{user.pk}")
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        except ApplicationError as exc:
            details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.fields.items())
            prefix = "Password refused:" if "password" in exc.fields else exc.message
            raise CommandError(f"{prefix} {details}") from exc
        verb = "Created" if created else "Reset the password of"
        self.stdout.write(self.style.SUCCESS(f"{verb} the demo investor ({user.risk_tolerance}, {user.onboarding_stage})."))
        if history is not None and history.skipped:
            self.stdout.write(f"  portfolio history: skipped ({history.skipped})")
        elif history is not None:
            self.stdout.write(f"  portfolio history: {history.created} ledger entries over the last year")
        self.stdout.write(f"  username: {username}\n  password: {password}")
