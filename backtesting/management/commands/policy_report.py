"""``manage.py policy_report``: the scoreboard, the risk-first policy against the simple baselines.

Example::

    manage.py policy_report --prices ../shared/data/prices --start 2016-01-01 --end 2023-12-31 --json policy.json

Replays ``engine_conservative``, ``engine_moderate`` and ``engine_aggressive`` (the recommendation policy with
walk-forward volatility forecasts and direction model) beside ``ml_only``, ``equal_weight``, ``spy``,
``trend_ma`` and ``vol_target`` on the period, with the lab's costs, and prints their metrics per calendar year
and for the whole period, the block-bootstrap interval of Sharpe(engine_moderate) - Sharpe(equal_weight), the
models' out-of-sample figures and each profile's realised volatility against its target. Every bar before
``--start`` warms indicators up and trains the models. Reads only the CSV files (never the database), so it
evaluates any prices. See :mod:`backtesting.scoreboard` for what each policy does.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from backtesting.scoreboard import (
    METRICS,
    PROFILES,
    Scoreboard,
    ScoreboardConfig,
    ScoreboardError,
    load_prices,
    profiles_from,
    scoreboard,
)
from backtesting.walkforward import MODEL_KINDS

_HEADERS = {
    "cagr": "CAGR",
    "volatility": "Vol",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "MaxDD",
    "turnover": "Turnover",
}
_PERCENT = {"cagr", "volatility", "max_drawdown"}
#: Realised volatility within this share of the target counts as on target (the issue's 25 %).
VOL_TOLERANCE = 0.25


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise CommandError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in _PERCENT:
        return f"{100 * value:.1f}%"
    return f"{value:.2f}"


def table(policies: dict[str, dict[str, float | None]]) -> list[str]:
    """The side-by-side lines of one section: a row per policy, a column per metric."""
    width = max([len("policy"), *(len(n) for n in policies)])
    head = f"{'policy':<{width}}  " + "  ".join(f"{_HEADERS[k]:>9}" for k in METRICS)
    lines = [head, "-" * len(head)]
    for name, values in policies.items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{_cell(k, values.get(k)):>9}" for k in METRICS))
    return lines


def summary(result: Scoreboard) -> list[str]:
    """The printed report: model and schedule, the whole period, each year, the interval, models, volatility."""
    report = result.report
    period = report["period"]
    lines = [
        f"Policy scoreboard {period['start']} .. {period['end']} ({period['days']} sessions; "
        f"{result.warmup_sessions} sessions before it used for warm-up and training)",
        f"Direction model: {result.model}, walk-forward, retrained every {result.retrain_every} sessions on labels "
        f"that ended before each model's first day (first fit {result.first_model or 'never'}; "
        + ", ".join(f"{m}: {n} fits" for m, n in result.retrains.items())
        + ")",
        "Volatility: GJR-GARCH(1,1)-t on each symbol's trailing 1000 returns, refitted every 21 sessions.",
        "",
        "Whole period",
        *table(report["policies"]),
    ]
    for year, section in report["years"].items():
        lines += ["", year, *table(section["policies"])]
    ci = report["sharpe_difference_ci"]
    lines.append("")
    if ci is None:
        lines.append("Sharpe(engine_moderate) - Sharpe(equal_weight): not computed (Moderate is not among the profiles)")
    else:
        moderate = report["policies"]["engine_moderate"]["sharpe"]
        equal = report["policies"]["equal_weight"]["sharpe"]
        diff = moderate - equal if moderate is not None and equal is not None else None
        lines.append(
            f"Sharpe(engine_moderate) - Sharpe(equal_weight): {_cell('sharpe', diff)}, "
            f"95 % block-bootstrap interval [{_cell('sharpe', ci[0])}, {_cell('sharpe', ci[1])}]"
        )
    models = report["models"]
    components = ", ".join(f"{m} {_fmt3(v)}" for m, v in result.component_aucs.items())
    lines += [
        f"Out-of-sample AUC over the period: {result.model} {_fmt3(models['ensemble_auc'])}, "
        f"best component {_fmt3(models['best_component_auc'])} ({components})",
        f"Volatility QLIKE over the period (lower is better): GARCH {_fmt3(models['volatility_qlike'])}, "
        f"naive 20-day {_fmt3(models['naive_volatility_qlike'])}",
        "",
        "Realised volatility against each profile's target:",
    ]
    realised: list[tuple[float, float]] = []
    for name, target in result.targets.items():
        vol = report["policies"][name]["volatility"]
        if vol is None:
            lines.append(f"  {name}: target {100 * target:.0f}%, realised -")
            continue
        realised.append((target, vol))
        off = vol / target - 1.0
        verdict = "within" if abs(off) <= VOL_TOLERANCE else "outside"
        lines.append(
            f"  {name}: target {100 * target:.0f}%, realised {100 * vol:.1f}% ({100 * off:+.0f}%, {verdict} "
            f"{100 * VOL_TOLERANCE:.0f}%)"
        )
    if len(realised) > 1:
        by_target = [vol for _, vol in sorted(realised)]
        ordered = all(a < b for a, b in itertools.pairwise(by_target))
        lines.append(f"  ordered like the targets: {'yes' if ordered else 'no'}")
    return lines


def _fmt3(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "Replay the recommendation policy walk-forward beside the simple baselines and print the scoreboard."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prices", nargs="+", required=True, metavar="DIR", help="read <DIR>/<SYMBOL>.csv (several: a later one wins)"
        )
        parser.add_argument("--start", required=True, type=_date, help="first day of the period, YYYY-MM-DD")
        parser.add_argument("--end", required=True, type=_date, help="last day of the period, YYYY-MM-DD")
        parser.add_argument("--profiles", nargs="+", default=list(PROFILES), metavar="PROFILE", help="risk profiles")
        parser.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
        parser.add_argument(
            "--models",
            nargs="+",
            default=["rf"],
            choices=MODEL_KINDS,
            help="walk-forward direction models; the first drives ml_only and the tilt (default rf)",
        )
        parser.add_argument("--retrain-every", type=int, default=63, metavar="N", help="sessions between refits (63)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = ScoreboardConfig(
                start=options["start"],
                end=options["end"],
                profiles=profiles_from(options["profiles"]),
                models=tuple(dict.fromkeys(options["models"])),
                retrain_every=options["retrain_every"],
                seed=options["seed"],
            )
            stocks, spy = load_prices(options["prices"], end=config.end)
        except (ScoreboardError, ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from None
        began = time.monotonic()
        show_bar = options.get("verbosity", 1) > 0
        with tqdm(total=1, desc="policy_report", unit="step", file=sys.stderr, disable=not show_bar) as bar:

            def progress(done: int, total: int, stage: str) -> None:
                bar.total = total
                bar.set_postfix_str(stage[:48])
                bar.update(done - bar.n)

            try:
                result = scoreboard(stocks, spy, config, progress=progress)
            except ScoreboardError as exc:
                raise CommandError(str(exc)) from None
        elapsed = time.monotonic() - began
        for line in summary(result):
            self.stdout.write(line)
        self.stdout.write(f"\nComputed in {elapsed:.0f} s.")
        if options["json"]:
            options["json"].write_text(json.dumps(result.report, indent=2) + "\n")
            self.stdout.write(f"Wrote {options['json']}")
