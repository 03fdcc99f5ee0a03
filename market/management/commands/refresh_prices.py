"""``manage.py refresh_prices``: the scheduled price refresh, run once, synchronously.

Examples::

    manage.py refresh_prices
    manage.py refresh_prices --sessions 3 --as-of 2024-06-14T21:00:00+00:00

Runs the same service as the ``market.tasks.refresh_prices`` beat entry (``MARKET_DATA_PROVIDER``,
the last ``--sessions`` completed sessions, bad answers rejected, incidents recorded and operators
mailed) but does not retry: transient failures are reported, and operators mailed at once. Prints
one line per symbol and the provider's open incidents; exits non-zero when a symbol failed.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from market.refresh import REFRESH_SESSIONS, SymbolOutcome, prices_refresh_run
from market.selectors import provider_health
from market.symbols import ALL_SYMBOLS


def _as_of(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an ISO datetime; use e.g. 2024-06-14T21:00:00+00:00") from None


class Command(BaseCommand):
    help = "Refresh the latest daily bars of every symbol from MARKET_DATA_PROVIDER (what the beat runs every 15 minutes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sessions", type=int, default=REFRESH_SESSIONS, help="completed sessions to re-read")
        parser.add_argument("--as-of", help="pin 'now' (ISO datetime, UTC when naive), for backfills")

    def handle(self, *args: Any, **options: Any) -> None:
        now = _as_of(options["as_of"]) if options["as_of"] else None
        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(total=len(ALL_SYMBOLS), desc="refresh_prices", unit="symbol", file=sys.stderr, disable=not show_bar) as bar:

            def progress(outcome: SymbolOutcome) -> None:
                bar.set_postfix_str(outcome.symbol)
                bar.update(1)

            report = prices_refresh_run(sessions=options["sessions"], now=now, alert_transient=True, progress=progress)

        self.stdout.write(f"{report.source}: sessions {report.start}..{report.end}")
        for outcome in report.outcomes:
            (self.stderr if outcome.status == "failed" else self.stdout).write(outcome.describe())
        incidents = [i for i in provider_health()["open_incidents"] if i["provider"] == report.source]
        for incident in incidents:
            self.stderr.write(
                f"open incident: {incident['symbol'] or '(all symbols)'} {incident['kind']}"
                f" x{incident['occurrences']} since {incident['first_seen_at']:%Y-%m-%d %H:%M}"
            )
        failed = [o.symbol for o in report.outcomes if o.status == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} of {len(report.outcomes)} symbols failed to refresh: {', '.join(failed)}")
