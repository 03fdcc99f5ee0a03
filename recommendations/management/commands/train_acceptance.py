"""``manage.py train_acceptance [--seed N] [--force]``: the nightly personalisation learning, synchronously.

Recomputes every answering user's learned profile, then trains the acceptance model (Random Forest, P(accept))
with time-ordered cross-validation. Too few answers, or answers unchanged since the newest model, skip the
training with the reason (``--force`` retrains on unchanged answers). Runs the same services as the task.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from recommendations.acceptance import acceptance_model_train
from recommendations.services.personalise import preference_profiles_recompute


class Command(BaseCommand):
    help = "Recompute the users' learned profiles and train the acceptance model on all answers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=0, help="random seed of the forest (default 0)")
        parser.add_argument("--force", action="store_true", help="retrain even when the answers are unchanged")

    def handle(self, *args: Any, **options: Any) -> None:
        profiles = preference_profiles_recompute()
        self.stdout.write(f"{profiles} learned profiles recomputed.")
        result = acceptance_model_train(seed=options["seed"], force=options["force"])
        self.stdout.write(result.describe())
        if result.trained and result.version is not None:
            top = ", ".join(f"{name} {value:.3f}" for name, value in result.version.feature_importance[:5])
            self.stdout.write(f"Top features: {top}")
