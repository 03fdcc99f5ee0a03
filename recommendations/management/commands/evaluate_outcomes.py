"""``manage.py evaluate_outcomes [--as-of DATE]``: expire and score recommendations, synchronously.

Runs the same service as the Celery task ``recommendations.tasks.evaluate_recommendations`` (the name the beat
schedule sends, so the task keeps it). Safe to run twice: a scored recommendation is never scored again.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from recommendations.management.commands._dates import iso_date
from recommendations.selectors import latest_price_date
from recommendations.services import recommendations_evaluate


class Command(BaseCommand):
    help = "Expire unanswered recommendations and score those whose horizon has passed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=iso_date, help="score up to this trading date (default: the latest day with prices)")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or latest_price_date()
        if as_of is None:
            raise CommandError("No prices are stored: run load_prices first.")
        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(desc=f"evaluate {as_of}", unit="rec", file=sys.stderr, disable=not show_bar) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = recommendations_evaluate(as_of=as_of, progress=progress)
        self.stdout.write(result.describe())
