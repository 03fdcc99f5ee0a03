"""``manage.py send_digest [--date DATE] [--user USERNAME]``: mail the daily digests for a trading day, synchronously.

Runs the same service as the Celery task. Safe to run twice: a user who already had the day's digest is skipped.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import User
from insights.digest import digests_send, latest_digest_day


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Mail the daily digest (new recommendations and alerts) to every user who asked for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=_iso_date, help="the trading day (default: the latest day with recommendations)")
        parser.add_argument("--user", help="only this username (and still only if they asked for the digest)")

    def handle(self, *args: Any, **options: Any) -> None:
        day = options["date"] or latest_digest_day()
        if day is None:
            raise CommandError("No recommendations have been made yet: nothing to send.")
        users = None
        if options["user"]:
            users = User.objects.filter(username=options["user"])
            if not users.exists():
                raise CommandError(f"No user {options['user']!r}.")
        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(desc=f"digest {day}", unit="user", file=sys.stderr, disable=not show_bar) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = digests_send(day=day, users=users, progress=progress)
        counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in sorted(result.outcomes.items()))
        self.stdout.write(f"Digest for {day.isoformat()}: {counts or 'nobody asked for it'}.")
