"""``manage.py build_calendar``: write the NYSE session file (``settings.MARKET_CALENDAR_FILE``) unless a fresh one is there.

Web processes read the trading calendar from that file; without it, the first lookup in each process imports
pandas and exchange_calendars (~58 MiB) to build the table. The Docker build runs this command; the Celery
worker and ``manage.py serve`` do the same when they start (:func:`market.calendar.ensure_file`). Exits non-zero
when the file could not be written (lookups still work then, each process building the table in memory).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from market import calendar


class Command(BaseCommand):
    help = "Write the NYSE session file web processes read the trading calendar from (only if missing or stale)."

    def handle(self, *args: Any, **options: Any) -> None:
        path = calendar.calendar_file()
        if path is None:
            raise CommandError("no calendar file is configured: set MARKET_CALENDAR_FILE")
        if not calendar.ensure_file(path):
            raise CommandError(f"could not write the {calendar.EXCHANGE} calendar file {path} (the log says why)")
        if options["verbosity"] > 0:
            first, last = calendar.first_session(), calendar.last_session()
            self.stdout.write(f"{calendar.EXCHANGE} sessions {first}..{last} in {path}")
