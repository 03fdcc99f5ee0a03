"""``manage.py simulate_users``: the learning loop replayed with simulated users (see :mod:`recommendations.simulation`).

Example (40 users x 30 days; ``--models none`` replays the risk-first policy without a direction model, which is
the fastest way to measure personalisation; by default the direction model is trained once, before the first session)::

    manage.py simulate_users --users 40 --days 30 --start 2023-06-01 --prices ../shared/data/prices --json sim.json

By default it runs in a sandbox: a fresh throwaway database (prices copied from the configured database, or
loaded from ``--prices``), private caches and a temporary model directory, all deleted at the end; the real
database, its users, its model registry and the shared Redis are never touched, and the JSON report is all
that is left. ``--in-place`` runs in the configured database instead and leaves everything there (simulated
users ``sim-*``, their recommendations and trades, the trained model versions, now active); it refuses a
database that holds real users.
"""

from __future__ import annotations

import json
import logging
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
from recommendations.simulation.personas import DEFAULT_PERSONAS_FILE, load_personas, random_personas
from recommendations.simulation.report import format_report, simulation_report
from recommendations.simulation.runner import (
    DEFAULT_HISTORY_SESSIONS,
    DEFAULT_MODELS,
    DEFAULT_TREES,
    SimulationConfig,
    simulation_prices_copy,
    simulation_prices_load,
    simulation_prices_trim,
    simulation_run,
)
from recommendations.simulation.sandbox import sandbox

HELP = """Replay D trading days with N simulated users through the real engine and learning loop.

Each session the ensemble (trained once before the first session on bars before it, or every --retrain-every
sessions; by default the cheap tree models rf and xgb with --trees 60; --models none: no direction model, the
risk-first policy alone) gives signals; the engine makes recommendations; each simulated user reads their
cards as its persona would (hidden preferences plus noise; folded cards stay closed, HOLDs are read but ask
nothing) and answers through the respond service (accept = paper trade); outcomes are scored at their horizon;
every night the learned profiles and the bandit learn from the day's answers, and every --acceptance-every
sessions the acceptance model is retrained. A control group (same personas and random numbers,
personalisation off) shows what personalisation changed. Acceptance counts BUY and SELL cards only.
Personas: --personas FILE (JSON; schema in
recommendations/simulation/personas.py), default the built-in set in recommendations/simulation/default_personas.json;
--random-personas SEED draws five at random instead (a set nobody tuned on; the report lists their hidden preferences).
"""


def _whole_number(value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise CommandError(f"{value} must be at least {minimum}")
    return number


def _positive(value: str) -> int:
    return _whole_number(value, 1)


def _seed(value: str) -> int:
    return _whole_number(value, 0)


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=_positive, required=True, help="simulated users (spread over the personas)")
        parser.add_argument("--days", type=_positive, required=True, help="trading sessions to replay")
        parser.add_argument("--start", type=iso_date, required=True, help="first session (YYYY-MM-DD; a holiday moves on)")
        parser.add_argument("--json", required=True, metavar="FILE", help="write the report here")
        personas = parser.add_mutually_exclusive_group()
        personas.add_argument("--personas", metavar="FILE", help=f"persona JSON (default {DEFAULT_PERSONAS_FILE.name})")
        personas.add_argument(
            "--random-personas",
            type=_seed,
            metavar="SEED",
            help="five personas drawn at random from SEED instead (a set nobody tuned on; see random_personas)",
        )
        parser.add_argument("--prices", nargs="+", metavar="DIR", help="CSV directories ({SYMBOL}.csv); default: the database")
        parser.add_argument("--seed", type=int, default=0, help="random seed of the personas and the acceptance model")
        parser.add_argument(
            "--retrain-every", type=_positive, help="sessions between retrainings (default: once, before the first session)"
        )
        parser.add_argument(
            "--acceptance-every", type=_positive, default=5, help="sessions between acceptance-model trainings (default 5)"
        )
        parser.add_argument(
            "--models",
            nargs="+",
            default=list(DEFAULT_MODELS),
            help="base models of the ensemble (default: rf xgb, the cheap ones; 'none': the risk-first policy alone)",
        )
        parser.add_argument(
            "--trees", type=_positive, default=DEFAULT_TREES, help=f"n_estimators of rf and xgb (default {DEFAULT_TREES})"
        )
        parser.add_argument("--cash", default="100000.00", help="each simulated user's starting cash (default 100000.00)")
        parser.add_argument("--no-control", action="store_true", help="no control group (personalisation off)")
        parser.add_argument(
            "--history",
            type=_positive,
            default=DEFAULT_HISTORY_SESSIONS,
            help=f"sessions of prices kept before --start in the sandbox (default {DEFAULT_HISTORY_SESSIONS}: what the "
            "volatility forecasts and the trend filter use; older bars only slow every day down)",
        )
        parser.add_argument("--in-place", action="store_true", help="run in the configured database and keep what it writes")

    def handle(self, *args: Any, **options: Any) -> None:
        # The replay runs thousands of tasks and generations; their INFO lines (one per task) would bury the report.
        # -v 2 shows them.
        if options["verbosity"] < 2:
            logging.disable(logging.INFO)
        try:
            self._handle(options)
        finally:
            logging.disable(logging.NOTSET)

    def _handle(self, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            cash = Decimal(options["cash"])
        except InvalidOperation:
            raise CommandError(f"--cash {options['cash']!r} is not an amount") from None
        models = () if options["models"] == ["none"] else tuple(options["models"])
        params = {k: {"n_estimators": options["trees"]} for k in models if k in ("rf", "xgb")}
        try:
            config = SimulationConfig(
                users=options["users"],
                days=options["days"],
                start=options["start"],
                personas=random_personas(options["random_personas"])
                if options["random_personas"] is not None
                else load_personas(options["personas"]),
                seed=options["seed"],
                retrain_every=options["retrain_every"] or options["days"],
                acceptance_every=options["acceptance_every"],
                models=models,
                model_params=params,
                starting_cash=cash,
                control=not options["no_control"],
            )
            if options["in_place"]:
                report = self._run(config, options["prices"], None, None)
            else:
                copied: list[dict[str, Any]] | None = None
                if not options["prices"]:
                    copied = [dict(row) for row in PriceBar.objects.filter(symbol__in=ALL_SYMBOLS).values()]
                    if not copied:
                        raise CommandError("No prices are stored: run load_prices first, or pass --prices DIR.")
                with sandbox(verbosity=max(0, options["verbosity"] - 1)):
                    report = self._run(config, options["prices"], copied, options["history"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        Path(options["json"]).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        self.stdout.write(format_report(report))
        self.stdout.write(f"Report written to {options['json']} ({report['wall_seconds']} s).")

    def _run(
        self, config: SimulationConfig, prices: list[str] | None, copied: list[dict[str, Any]] | None, history: int | None
    ) -> dict[str, Any]:
        if prices:
            for line in simulation_prices_load(directories=prices):
                self.stderr.write(line)
        elif copied is not None:
            simulation_prices_copy(copied)
        if history is not None:  # the sandbox only: never delete bars from a real database
            trimmed = simulation_prices_trim(start=config.start, sessions=history)
            self.stderr.write(f"Kept {history} sessions of history before {config.start} ({trimmed} older bars left out).")
        show_bar = sys.stderr.isatty()
        with tqdm(total=config.days, desc="simulating", unit="day", file=sys.stderr, disable=not show_bar) as bar:

            def progress(done: int, total: int, text: str) -> None:
                bar.set_postfix_str(text)
                bar.update(done - bar.n)

            result = simulation_run(config=config, progress=progress)
        return simulation_report(result)
