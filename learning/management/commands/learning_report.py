"""``manage.py learning_report``: train the ensemble on CSV prices up to a date and score it on a later window.

Examples::

    manage.py learning_report --prices ../shared/data/prices --train-end 2019-12-31 --test-start 2020-01-01
    manage.py learning_report --prices old/ --prices new/ --train-end 2021-12-31 --test-start 2022-01-01 \\
        --test-end 2022-12-30 --models rf xgb --json report.json

A thin wrapper over :func:`learning.ml.evaluation.evaluate_split`: it reads ``{SYMBOL}.csv`` files only
(later directories extend earlier ones) and never the database, so it can evaluate any data set. Every
model and the ensemble are printed next to the baselines (always-up, 20-day momentum, buy-and-hold).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _model_kinds() -> list[str]:
    # learning.ml.models is cheap to import (the heavy libraries load inside fit/predict).
    from learning.ml.models import MODEL_CLASSES

    return sorted(MODEL_CLASSES)


class Command(BaseCommand):
    help = "Train every model and the ensemble on CSV prices up to --train-end and score them on the test window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prices", action="append", required=True, metavar="DIR", help="directory of SYMBOL.csv files; repeat to extend"
        )
        parser.add_argument("--train-end", required=True, help="last day of the training data, YYYY-MM-DD")
        parser.add_argument("--test-start", required=True, help="first day of the test window, YYYY-MM-DD")
        parser.add_argument("--test-end", help="last day of the test window (default: the last labelled day)")
        parser.add_argument("--json", type=Path, metavar="FILE", help="also write the full result as JSON")
        parser.add_argument(
            "--models",
            nargs="+",
            metavar="KIND",
            help=f"base models of the ensemble (default: the ensemble's own; {' '.join(_model_kinds())})",
        )
        parser.add_argument(
            "--horizon", type=int, help="label horizon H in trading days (default settings.LEARNING_HORIZON_DAYS, else 5)"
        )
        parser.add_argument("--embargo", type=int, help="sessions between training labels and the test window (default H)")
        parser.add_argument("--seed", type=int, default=0, help="random seed of every model (default 0)")

    def handle(self, *args: Any, **options: Any) -> None:
        from learning.ml.data import BarsError, load_csv_dirs
        from learning.ml.evaluation import evaluate_split, format_table, summary_line
        from learning.ml.models import ModelError

        train_end = _iso_date(options["train_end"])
        test_start = _iso_date(options["test_start"])
        test_end = _iso_date(options["test_end"]) if options["test_end"] else None
        if train_end >= test_start:
            raise CommandError(f"--train-end {train_end} must be before --test-start {test_start}")
        if test_end is not None and test_end < test_start:
            raise CommandError(f"--test-end {test_end} is before --test-start {test_start}")
        horizon = options["horizon"] if options["horizon"] is not None else getattr(settings, "LEARNING_HORIZON_DAYS", 5)
        if horizon < 1:
            raise CommandError("--horizon must be at least 1")
        embargo = horizon if options["embargo"] is None else options["embargo"]
        for directory in options["prices"]:
            if not Path(directory).is_dir():
                raise CommandError(f"--prices {directory}: no such directory")

        ensemble_params: dict[str, Any] = {"seed": options["seed"]}
        if options["models"]:
            known = _model_kinds()
            unknown = [k for k in options["models"] if k not in known]
            if unknown:
                raise CommandError(f"unknown model kind(s) {', '.join(unknown)}; choose from {', '.join(known)}")
            ensemble_params["base"] = {kind: {} for kind in dict.fromkeys(options["models"])}

        try:
            panel = load_csv_dirs(options["prices"])
            if not panel:
                raise CommandError(f"no SYMBOL.csv files in {', '.join(options['prices'])}")
            result = evaluate_split(
                panel,
                train_end=train_end.isoformat(),
                test_start=test_start.isoformat(),
                test_end=test_end.isoformat() if test_end else None,
                horizon=horizon,
                embargo=embargo,
                ensemble_params=ensemble_params,
            )
        except (BarsError, ModelError, ValueError) as exc:
            raise CommandError(str(exc)) from None

        train, test = result["train"], result["test"]
        self.stdout.write(f"train {train['start']}..{train['end']}  rows {train['rows']}  base rate {train['base_rate']}")
        self.stdout.write(f"test  {test['start']}..{test['end']}  rows {test['rows']}  base rate {test['base_rate']}")
        combiner = result["combiner"]
        chosen = combiner["method"] + (f" ({combiner['kind']})" if combiner.get("kind") else "")
        scores = "  ".join(
            f"{name} {c['log_loss']:.4f}{'' if c['eligible'] else ' (AUC too low)'}"
            for name, c in combiner["selection"].get("candidates", {}).items()
        )
        self.stdout.write(f"combiner {chosen}, chosen on inner out-of-fold log loss: {scores}")
        self.stdout.write(f"combiner weights {combiner['weights']}  stacker weights {combiner['stacker_weights']}")
        timings = result["timings"]
        train_s = "  ".join(f"{k} {v:.1f}s" for k, v in timings["train_seconds"].items())
        self.stdout.write(f"train time {train_s}  predict {timings['predict_ms_per_symbol']:.2f} ms/symbol")
        self.stdout.write(format_table(result))
        self.stdout.write(summary_line(result))
        if options["json"]:
            options["json"].write_text(json.dumps(result, indent=2))
            self.stdout.write(f"wrote {options['json']}")
