"""``manage.py load_prices``: load daily bars from a provider into the database (idempotent).

Examples::

    manage.py load_prices --source auto        # Yahoo Finance if reachable, else the synthetic market
    manage.py load_prices --source demo
    manage.py load_prices --source csv --path ../shared/data/prices
    manage.py load_prices --source yfinance --symbols AAPL MSFT --start 2024-01-01

Prints one line per symbol and exits non-zero when any symbol failed (nothing of a failed symbol
is written; the others are). ``--source auto`` (``make run``) is described in :mod:`market.sourcing`:
it says which market it loaded and why, and an unreachable Yahoo Finance is not a failure.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from market.providers import PROVIDER_NAMES, ProviderConfigError
from market.services import LoadSummary, prices_load, provider_build
from market.sourcing import PROBE_TIMEOUT, REAL_LOAD_DEADLINE, market_load_auto
from market.symbols import ALL_SYMBOLS
from quantai.errors import ValidationFailed


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Load daily price bars from a provider (csv, yfinance, alphavantage, finazon, demo) into the database; "
        "auto: Yahoo Finance when it can be reached, else the synthetic demo market."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=(*PROVIDER_NAMES, "auto"), help="where the bars come from")
        parser.add_argument("--path", help="directory of SYMBOL.csv files (csv source; default MARKET_DATA_CSV_DIR)")
        parser.add_argument(
            "--symbols", nargs="+", metavar="SYMBOL", help=f"symbols to load (default: all of {' '.join(ALL_SYMBOLS)})"
        )
        parser.add_argument("--start", help="first date to load, YYYY-MM-DD (default: all the source has)")
        parser.add_argument("--end", help="last date to load, YYYY-MM-DD (default: the latest the source has)")
        parser.add_argument("--seed", type=int, help="random seed of the demo market (default MARKET_DATA_DEMO_SEED)")
        parser.add_argument(
            "--probe-timeout",
            type=float,
            default=PROBE_TIMEOUT,
            help=f"auto: seconds Yahoo Finance may take to answer before counting as offline (default {PROBE_TIMEOUT:g})",
        )
        parser.add_argument(
            "--deadline",
            type=float,
            default=REAL_LOAD_DEADLINE,
            help=f"auto: seconds for all symbols' real history before falling back (default {REAL_LOAD_DEADLINE:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start = _iso_date(options["start"]) if options["start"] else None
        end = _iso_date(options["end"]) if options["end"] else None
        if start and end and start > end:
            raise CommandError(f"--start {start} is after --end {end}")
        symbols = [s.upper() for s in options["symbols"]] if options["symbols"] else list(ALL_SYMBOLS)
        if options["source"] == "auto":
            self._load_auto(symbols, start, end, options)
            return
        try:
            provider = provider_build(source=options["source"], path=options["path"], seed=options["seed"])
        except ProviderConfigError as exc:
            raise CommandError(str(exc)) from None

        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(
            total=len(symbols), desc=f"load_prices {provider.name}", unit="symbol", file=sys.stderr, disable=not show_bar
        ) as bar:

            def progress(summary: LoadSummary) -> None:
                bar.set_postfix_str(summary.symbol)
                bar.update(1)

            try:
                summaries = prices_load(provider=provider, symbols=symbols, start=start, end=end, progress=progress)
            except ValidationFailed as exc:
                raise CommandError(exc.message) from None
            except requests.RequestException as exc:
                raise CommandError(f"network error while loading from {provider.name}: {exc}") from None

        for summary in summaries:
            if summary.ok:
                self.stdout.write(summary.describe())
            else:
                self.stderr.write(summary.describe())
        failed = [s.symbol for s in summaries if not s.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(summaries)} symbols failed to load: {', '.join(failed)}")

    def _load_auto(self, symbols: list[str], start: date | None, end: date | None, options: dict[str, Any]) -> None:
        try:
            result = market_load_auto(
                symbols=symbols,
                start=start,
                end=end,
                probe_timeout=options["probe_timeout"],
                deadline=options["deadline"],
            )
        except ValidationFailed as exc:
            raise CommandError(exc.message) from None
        except requests.RequestException as exc:
            raise CommandError(f"network error while loading the demo market: {exc}") from None
        self.stdout.write(result.describe())
        for summary in result.summaries:
            if summary.ok:
                self.stdout.write(summary.describe())
            else:
                self.stderr.write(summary.describe())
        failed = [s.symbol for s in result.summaries if not s.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(result.summaries)} symbols failed to load: {', '.join(failed)}")
