"""``manage.py run_backtest``: one backtest (or sweep) in the foreground, with a progress bar.

Examples::

    manage.py run_backtest --system trend_ma --param fast=20 --param slow=100
    manage.py run_backtest --system trend_ma --param fast=5,10,20 --param slow=50:200:50 --split 2020-01-02
    manage.py run_backtest --system mean_reversion_rsi --params '{"entry": 25}' --json rsi.json
    manage.py run_backtest --system buy_and_hold --user alice          # stored as alice's run
    manage.py run_backtest --system trend_tsmom --prices ../shared/data/prices   # CSV files, not the database
    manage.py run_backtest --system ml --params '{"model": "xgb", "threshold": [0.52, 0.55]}' --start 2012-01-03
    manage.py run_backtest --system engine --params '{"profile": "Moderate"}' --start 2015-01-02 --json moderate.json
    manage.py run_backtest --system ml --start 2023-01-03 --prices ../shared/data/prices   # one year, trained on 2005-2022

The period runs from ``--start`` to ``--end``; every price before ``--start`` is history: the first model
of ``ml`` and ``engine`` is fitted on all of it (then retrained inside the period) and indicators warm up on
it, while the metrics cover the period alone, from the close before it. So any period with one session can
be evaluated; the report says how much history the first model and the indicators had.

``--system`` takes the issue's names ``buy_and_hold``, ``trend`` (= ``trend_ma``), ``mean_reversion``
(= ``mean_reversion_rsi``), ``ml`` and ``engine``, and every registered system name.

Reads the stored prices by default, or ``<DIR>/<SYMBOL>.csv`` files with ``--prices DIR [DIR ...]`` (a later
directory extends the earlier ones and wins on a shared date; not with ``--user``: a stored run always reads
the database). ``--param`` values: ``20``, a list ``5,10,20`` or a range
``10:50:10`` (stop included). Runs through the same services as the web and the API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from backtesting.models import Execution, RunStatus
from backtesting.report import text_report
from backtesting.systems import SYSTEM_ALIASES, SYSTEMS, parse_param_text, resolve_system
from quantai.errors import ValidationFailed


def _params(options: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if options["params"]:
        try:
            loaded = json.loads(options["params"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CommandError("--params must be a JSON object of name: value")
        params.update(loaded)
    for item in options["param"] or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--param {item!r}: use NAME=VALUE")
        params[name.strip()] = parse_param_text(value)
    return params


def _errors(exc: ValidationFailed) -> str:
    lines = [f"  {field}: {' '.join(messages)}" for field, messages in exc.fields.items()]
    return "\n".join([exc.message, *lines])


class Command(BaseCommand):
    help = "Run a backtest (or parameter sweep) synchronously and print its metrics and validation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--system", required=True, choices=sorted({*SYSTEMS, *SYSTEM_ALIASES}))
        parser.add_argument("--param", action="append", metavar="NAME=VALUE", help="a parameter; repeat for more")
        parser.add_argument("--params", metavar="JSON", help="parameters as a JSON object, e.g. '{\"fast\": [5, 10]}'")
        parser.add_argument(
            "--start", help="first day, YYYY-MM-DD (default: the first prices); earlier prices warm up and train the models"
        )
        parser.add_argument("--end", help="last day, YYYY-MM-DD (default: the latest prices)")
        parser.add_argument("--split", help="first out-of-sample day (default: after 70 %% of the days)")
        parser.add_argument("--commission-bps", default="1", help="per trade (default 1)")
        parser.add_argument("--slippage-bps", default="2", help="per trade (default 2)")
        parser.add_argument("--execution", choices=Execution.values, default=Execution.NEXT_OPEN)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--user", metavar="USERNAME", help="store the run as this user's (else nothing is stored)")
        parser.add_argument(
            "--prices", nargs="+", metavar="DIR", help="read <DIR>/<SYMBOL>.csv instead of the database (several: later wins)"
        )
        parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from backtesting import services

        if options["user"] and options["prices"]:
            raise CommandError("--prices cannot be used with --user: a stored run reads the database")
        request = {
            "system": resolve_system(options["system"]),
            "params": _params(options),
            "start": options["start"],
            "end": options["end"],
            "split": options["split"],
            "commission_bps": options["commission_bps"],
            "slippage_bps": options["slippage_bps"],
            "execution": options["execution"],
            "seed": options["seed"],
        }
        show_bar = sys.stderr.isatty() and options["verbosity"] > 0
        with tqdm(total=100, desc="run_backtest", unit="%", file=sys.stderr, disable=not show_bar) as bar:

            def progress(percent: int, stage: str) -> None:
                bar.set_postfix_str(stage[:40])
                bar.update(max(0, int(percent) - bar.n))

            try:
                if options["user"]:
                    body = self._stored(services, request, options["user"], progress)
                else:
                    body = self._pure(services, request, options["prices"], progress)
            except ValidationFailed as exc:
                raise CommandError(_errors(exc)) from None
        self.stdout.write(text_report(body["results"]))
        if options["json"]:
            options["json"].write_text(json.dumps(body, indent=2, default=str))
            self.stdout.write(f"\nwrote {options['json']}")

    def _stored(self, services: Any, request: dict[str, Any], username: str, progress: Any) -> dict[str, Any]:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        run = services.backtest_create(user=user, enqueue=False, **request)
        run = services.backtest_run(run_id=run.pk, progress=progress)
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"backtest #{run.pk} failed: {run.error}")
        self.stdout.write(f"backtest #{run.pk} stored for {username} ({run.duration_seconds:.2f} s)")
        return {"run_id": run.pk, "results": run.results, "equity_curve": run.equity_curve, "data_hash": run.data_hash}

    def _pure(self, services: Any, request: dict[str, Any], prices: list[str] | None, progress: Any) -> dict[str, Any]:
        bars = None
        if prices:
            from backtesting.compute import BENCHMARK, STOCKS
            from backtesting.engine.data import load_bars_csv_dirs

            try:
                bars = load_bars_csv_dirs(prices, [*STOCKS, BENCHMARK])
            except (OSError, ValueError, KeyError) as exc:
                raise CommandError(f"--prices {' '.join(prices)}: {exc}") from None
        spec = services.backtest_spec_clean(check_data=bars is None, **request)
        outcome = services.backtest_evaluate(spec=spec, progress=progress, bars=bars)
        return {"results": outcome.results, "equity_curve": outcome.curve, "data_hash": outcome.data_hash}
