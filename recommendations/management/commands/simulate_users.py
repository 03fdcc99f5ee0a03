"""``manage.py simulate_users``: the learning loop replayed with simulated users (see :mod:`recommendations.simulation`).

Example (33 minutes on a shared 2-core machine: three retrainings and the nightly acceptance model dominate)::

    manage.py simulate_users --users 20 --days 60 --start 2021-01-04 --prices ../shared/data/prices --json sim.json

By default it runs in a sandbox: a fresh throwaway database (prices copied from the configured database, or
loaded from ``--prices``), private caches and a temporary model directory, all deleted at the end; the real
database, its users, its model registry and the shared Redis are never touched, and the JSON report is all
that is left. ``--in-place`` runs in the configured database instead and leaves everything there (simulated
users ``sim-*``, their recommendations and trades, the trained model versions, now active); it refuses a
database that holds real users.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from market.models import PriceBar
from market.symbols import ALL_SYMBOLS
from quantai.errors import ApplicationError
from recommendations.management.commands._dates import iso_date
from recommendations.simulation.personas import DEFAULT_PERSONAS_FILE, load_personas
from recommendations.simulation.report import format_report, simulation_report
from recommendations.simulation.runner import (
    DEFAULT_MODELS,
    SimulationConfig,
    simulation_prices_copy,
    simulation_prices_load,
    simulation_run,
)
from recommendations.simulation.sandbox import sandbox

HELP = """Replay D trading days with N simulated users through the real engine and learning loop.

Each session the ensemble (retrained every --retrain-every sessions on bars before that session only; by
default the cheap tree models rf and xgb, so a run stays within minutes) gives signals; the engine makes
recommendations; each simulated user answers as its persona would (hidden preferences plus noise) through the
respond service (accept = paper trade); outcomes are scored at their horizon; every night the learned profiles
and the acceptance model are retrained. A control group (same personas and random numbers, personalisation
off) shows what personalisation changed. Personas: --personas FILE (JSON; schema in
recommendations/simulation/personas.py), default the built-in set in recommendations/simulation/default_personas.json.
"""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise CommandError(f"{value} must be at least 1")
    return number


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=_positive, required=True, help="simulated users (spread over the personas)")
        parser.add_argument("--days", type=_positive, required=True, help="trading sessions to replay")
        parser.add_argument("--start", type=iso_date, required=True, help="first session (YYYY-MM-DD; a holiday moves on)")
        parser.add_argument("--json", required=True, metavar="FILE", help="write the report here")
        parser.add_argument("--personas", metavar="FILE", help=f"persona JSON (default {DEFAULT_PERSONAS_FILE.name})")
        parser.add_argument("--prices", nargs="+", metavar="DIR", help="CSV directories ({SYMBOL}.csv); default: the database")
        parser.add_argument("--seed", type=int, default=0, help="random seed of the personas and the acceptance model")
        parser.add_argument("--retrain-every", type=_positive, default=20, help="sessions between retrainings (default 20)")
        parser.add_argument(
            "--models",
            nargs="+",
            default=list(DEFAULT_MODELS),
            help="base models of the ensemble (default: rf xgb, the cheap ones)",
        )
        parser.add_argument("--trees", type=_positive, help="n_estimators of rf and xgb (default: the configured value)")
        parser.add_argument("--cash", default="100000.00", help="each simulated user's starting cash (default 100000.00)")
        parser.add_argument("--no-control", action="store_true", help="no control group (personalisation off)")
        parser.add_argument("--in-place", action="store_true", help="run in the configured database and keep what it writes")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            cash = Decimal(options["cash"])
        except InvalidOperation:
            raise CommandError(f"--cash {options['cash']!r} is not an amount") from None
        params: dict[str, dict[str, Any]] = {}
        if options["trees"]:
            params = {k: {"n_estimators": options["trees"]} for k in options["models"] if k in ("rf", "xgb")}
        try:
            config = SimulationConfig(
                users=options["users"],
                days=options["days"],
                start=options["start"],
                personas=load_personas(options["personas"]),
                seed=options["seed"],
                retrain_every=options["retrain_every"],
                models=tuple(options["models"]),
                model_params=params,
                starting_cash=cash,
                control=not options["no_control"],
            )
            if options["in_place"]:
                report = self._run(config, options["prices"], None)
            else:
                copied: list[dict[str, Any]] | None = None
                if not options["prices"]:
                    copied = [dict(row) for row in PriceBar.objects.filter(symbol__in=ALL_SYMBOLS).values()]
                    if not copied:
                        raise CommandError("No prices are stored: run load_prices first, or pass --prices DIR.")
                with sandbox(verbosity=max(0, options["verbosity"] - 1)):
                    report = self._run(config, options["prices"], copied)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        Path(options["json"]).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        self.stdout.write(format_report(report))
        self.stdout.write(f"Report written to {options['json']} ({report['wall_seconds']} s).")

    def _run(self, config: SimulationConfig, prices: list[str] | None, copied: list[dict[str, Any]] | None) -> dict[str, Any]:
        if prices:
            for line in simulation_prices_load(directories=prices):
                self.stderr.write(line)
        elif copied is not None:
            simulation_prices_copy(copied)
        show_bar = sys.stderr.isatty()
        with tqdm(total=config.days, desc="simulating", unit="day", file=sys.stderr, disable=not show_bar) as bar:

            def progress(done: int, total: int, text: str) -> None:
                bar.set_postfix_str(text)
                bar.update(done - bar.n)

            result = simulation_run(config=config, progress=progress)
        return simulation_report(result)
