"""``manage.py train_models``: the nightly training job, run synchronously with a progress bar.

Examples::

    manage.py train_models                      # every configured model, all stored bars
    manage.py train_models --models rf xgb      # an ensemble of these two only
    manage.py train_models --until 2023-12-29   # as if it were that evening

Reads the bars from the database, skips when they (and the settings) are unchanged since the latest
version, otherwise trains, applies the promotion gate and registers the versions. Exits non-zero when
the run failed.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from learning.models import RunStatus, RunTrigger
from quantai.errors import ValidationFailed


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Train the models from the stored bars, gate them against the active versions and register them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--until", help="train on bars up to this day, YYYY-MM-DD (default: all)")
        parser.add_argument("--models", nargs="+", metavar="KIND", help="base models of the ensemble (default: LEARNING_MODELS)")

    def handle(self, *args: Any, **options: Any) -> None:
        from learning.services.training import models_train

        until = _iso_date(options["until"]) if options["until"] else None
        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(total=100, desc="train_models", unit="%", file=sys.stderr, disable=not show_bar) as bar:

            def progress(percent: int, stage: str) -> None:
                bar.set_postfix_str(stage[:60])
                bar.update(max(0, percent - bar.n))

            try:
                run = models_train(until=until, kinds=options["models"], trigger=RunTrigger.COMMAND, progress=progress)
            except ValidationFailed as exc:
                raise CommandError(exc.message) from None
            except Exception as exc:  # noqa: BLE001 - recorded on the run; the command reports it and exits non-zero
                raise CommandError(f"training failed: {type(exc).__name__}: {exc}") from None
            if run.status != RunStatus.FAILED:
                bar.update(100 - bar.n)

        self.stdout.write(f"training run #{run.pk}: {run.status}")
        if run.status == RunStatus.SKIPPED:
            self.stdout.write(f"  {run.stage}")
        for kind, entry in (run.result or {}).get("versions", {}).items():
            state = "active" if entry["promoted"] else "candidate"
            self.stdout.write(f"  {kind:<8} v{entry['version']:<4} {state:<9} {entry['reason']}")
        if run.status == RunStatus.FAILED:
            raise CommandError(f"training run #{run.pk} failed: {run.error}")
