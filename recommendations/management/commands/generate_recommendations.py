"""``manage.py generate_recommendations [--date DATE] [--user NAME ...]``: the after-close generation, synchronously.

Runs the same service as the Celery task. With no active model every stock gets a card from the risk-only
policy and the output says why; with no bars on the day it creates nothing and says why (run it again after
``load_prices``). Safe to run twice.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import User
from recommendations.management.commands._dates import iso_date
from recommendations.selectors import latest_price_date
from recommendations.services import recommendations_generate


class Command(BaseCommand):
    help = "Generate the day's recommendations for every active user (or the named ones) from the risk-first policy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=iso_date, help="trading date, YYYY-MM-DD (default: the latest day with prices)")
        parser.add_argument("--user", nargs="+", metavar="NAME", help="only these usernames")

    def handle(self, *args: Any, **options: Any) -> None:
        day = options["date"] or latest_price_date()
        if day is None:
            raise CommandError("No prices are stored: run load_prices first.")
        users = None
        if options["user"]:
            users = list(User.objects.filter(username__in=options["user"]).order_by("pk"))
            unknown = sorted(set(options["user"]) - {u.username for u in users})
            if unknown:
                raise CommandError(f"Unknown user(s): {', '.join(unknown)}")
        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(total=5, desc=f"recommendations {day}", unit="symbol", file=sys.stderr, disable=not show_bar) as bar:

            def progress(symbol: str, done: int, total: int) -> None:
                bar.total = total
                bar.set_postfix_str(symbol)
                bar.update(done - bar.n)

            result = recommendations_generate(date=day, users=users, progress=progress)
        self.stdout.write(result.describe())
        if result.created == 0 and result.existing == 0 and result.reason:
            raise CommandError(result.reason)
