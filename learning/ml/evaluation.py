"""Out-of-sample evaluation: train on the past, score on a later window, next to the baselines.

:func:`evaluate_split` trains the ensemble (and so each base model) on rows up to ``train_end`` (purged
and embargoed against ``test_start``) and scores every model on ``[test_start, test_end]``; its result
has the layout of the ``learning_report`` JSON. :func:`evaluate_walk_forward` does it for yearly folds
and pools the predictions for an overall line. Baselines, always beside the models:

- ``always_up``: P(up) = the training base rate on every row (climatology);
- ``momentum``: up if the 20-day return is positive (ranked by the 20-day return for AUC and IC);
- ``buy_and_hold``: long every symbol all the time (strategy metrics only).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from learning.ml.data import Panel, adjusted
from learning.ml.dataset import Dataset, build_dataset
from learning.ml.ensemble import StackedEnsemble
from learning.ml.features import DEFAULT_BENCHMARK
from learning.ml.metrics import classification_metrics, rounded, strategy_metrics
from learning.ml.validation import Fold, split_by_dates, walk_forward_folds


def next_day_returns(panel: Panel, symbols: Sequence[str]) -> pd.DataFrame:
    """Dates x symbols: adjusted close of the next session over today's, minus 1 (NaN on the last bar)."""
    return pd.DataFrame({s: (lambda c: c.shift(-1) / c - 1.0)(adjusted(panel[s])["close"]) for s in symbols})


def _strategy(positions: pd.DataFrame, next_ret: pd.DataFrame, cost_bp: float) -> dict[str, Any]:
    return strategy_metrics(positions, next_ret.reindex(positions.index)[positions.columns], cost_bp=cost_bp)


def score_predictions(
    proba: pd.Series | None,
    test: Dataset,
    base_rate: float | np.ndarray,
    next_ret: pd.DataFrame,
    cost_bp: float,
    *,
    score: pd.Series | None = None,
    positions: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Classification and long/flat strategy metrics of ``proba`` (or of the sign of ``score``)."""
    metrics = classification_metrics(test.y, proba, returns=test.fwd_return, base_rate=base_rate, score=score)
    if positions is None:
        ranked = proba if proba is not None else score
        threshold = 0.5 if proba is not None else 0.0
        if ranked is None:
            raise ValueError("give proba, score or positions")
        positions = pd.Series(ranked > threshold, index=ranked.index).astype("float64").unstack("symbol")
    metrics.update(_strategy(positions, next_ret, cost_bp))
    metrics.pop("rows", None)
    return rounded(metrics)


def _baselines(test: Dataset, base_rate: float | np.ndarray, next_ret: pd.DataFrame, cost_bp: float) -> dict[str, Any]:
    climatology = pd.Series(np.broadcast_to(base_rate, len(test)).astype("float64"), index=test.X.index)
    momentum = test.X["ret_20"]
    always_long = pd.Series(1.0, index=test.X.index).unstack("symbol")
    return {
        "always_up": score_predictions(climatology, test, base_rate, next_ret, cost_bp, positions=always_long),
        "momentum": score_predictions(None, test, base_rate, next_ret, cost_bp, score=momentum),
        "buy_and_hold": rounded(_strategy(always_long, next_ret, cost_bp)),
    }


def combiner_record(ensemble: StackedEnsemble) -> dict[str, Any]:
    """What the ensemble's combiner is and why (plain JSON): method, chosen model for ``best``, weights, the
    stacker's own weights, and the inner out-of-fold scores it was chosen on."""
    combiner = ensemble.combiner
    return {
        "method": combiner["method"],
        "kind": combiner.get("kind"),
        "weights": {k: round(v, 4) for k, v in ensemble.weights.items()},
        "stacker_weights": {k: round(v, 4) for k, v in ensemble.stacker_weights.items()},
        "selection": combiner.get("selection", {}),
    }


def ensemble_summary(models: dict[str, Any], kinds: Sequence[str]) -> dict[str, Any]:
    """The ensemble's AUC beside its best component's on the same rows (``None`` where a window has one class)."""
    aucs = {k: models[k].get("auc") for k in kinds if models.get(k, {}).get("auc") is not None}
    best = max(aucs, key=lambda k: aucs[k]) if aucs else None
    ensemble_auc = models.get("ensemble", {}).get("auc")
    best_auc = aucs[best] if best is not None else None
    return {
        "ensemble_auc": ensemble_auc,
        "best_component": best,
        "best_component_auc": best_auc,
        "auc_gap": round(ensemble_auc - best_auc, 4) if ensemble_auc is not None and best_auc is not None else None,
    }


def evaluate_fold(
    data: Dataset, fold: Fold, next_ret: pd.DataFrame, *, ensemble_params: dict[str, Any], cost_bp: float
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit the ensemble on ``fold.train`` and score it and its components on ``fold.test`` (one walk-forward step).

    Returns the fold's metrics and the test rows' probabilities; the ensemble sees features dated before
    ``fold.test_start`` only.
    """
    train, test = data.take(fold.train), data.take(fold.test)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(f"fold {fold.name}: empty training ({len(train)}) or test ({len(test)}) set")
    ensemble = StackedEnsemble(**ensemble_params).fit(train.X, train.y)
    context = data.features[data.features.index.get_level_values("date") < fold.test_start]
    components = ensemble.predict_components(test.X, context=context)
    base_rate = float(train.y.mean())
    models = {kind: score_predictions(components[kind], test, base_rate, next_ret, cost_bp) for kind in ensemble.kinds}
    models["ensemble"] = score_predictions(components["ensemble"], test, base_rate, next_ret, cost_bp)
    # One day's prediction for every symbol, as the nightly job makes it (features already computed).
    last_day = test.X.index.get_level_values("date").max()
    day_rows = data.features.loc[data.features.index.get_level_values("date") == last_day]
    day_context = data.features[data.features.index.get_level_values("date") < last_day]
    started = time.perf_counter()
    ensemble.predict_components(day_rows, context=day_context)
    predict_ms = (time.perf_counter() - started) * 1000 / max(1, len(day_rows))
    result = {
        "fold": fold.name,
        "train": {
            "rows": len(train),
            "base_rate": round(base_rate, 4),
            "start": str(train.dates.min().date()),
            "end": str(train.dates.max().date()),
        },
        "test": {
            "rows": len(test),
            "base_rate": round(float(test.y.mean()), 4),
            "start": str(test.dates.min().date()),
            "end": str(test.dates.max().date()),
        },
        "models": models,
        "baselines": _baselines(test, base_rate, next_ret, cost_bp),
        "weights": {k: round(v, 4) for k, v in ensemble.weights.items()},
        "combiner": combiner_record(ensemble),
        "summary": ensemble_summary(models, ensemble.kinds),
        "timings": {
            "train_seconds": {k: round(v, 3) for k, v in ensemble.fit_seconds_.items()},
            "predict_ms_per_symbol": round(predict_ms, 3),
        },
    }
    predictions = components.assign(y=test.y, fwd_return=test.fwd_return, base_rate=base_rate, fold=fold.name)
    return result, predictions


def evaluate_split(
    panel: Panel,
    *,
    train_end: str | pd.Timestamp,
    test_start: str | pd.Timestamp,
    test_end: str | pd.Timestamp | None = None,
    horizon: int = 5,
    embargo: int = 5,
    ensemble_params: dict[str, Any] | None = None,
    cost_bp: float = 10.0,
    benchmark: str = DEFAULT_BENCHMARK,
) -> dict[str, Any]:
    """Train up to ``train_end``, evaluate on ``[test_start, test_end]``: the ``learning_report`` layout."""
    data = build_dataset(panel, horizon=horizon, benchmark=benchmark)
    fold = split_by_dates(
        data.dates, data.label_end, train_end=train_end, test_start=test_start, test_end=test_end, embargo=embargo
    )
    symbols = sorted(set(data.X.index.get_level_values("symbol")))
    params = {"horizon": horizon, "embargo": embargo, **(ensemble_params or {})}
    result, _ = evaluate_fold(data, fold, next_day_returns(panel, symbols), ensemble_params=params, cost_bp=cost_bp)
    return result


def evaluate_walk_forward(
    panel: Panel,
    *,
    n_years: int = 3,
    last_year: int | None = None,
    horizon: int = 5,
    embargo: int = 5,
    ensemble_params: dict[str, Any] | None = None,
    cost_bp: float = 10.0,
    benchmark: str = DEFAULT_BENCHMARK,
) -> dict[str, Any]:
    """Yearly walk-forward over the last ``n_years`` (up to ``last_year``): per-fold results and pooled metrics."""
    data = build_dataset(panel, horizon=horizon, benchmark=benchmark)
    folds = walk_forward_folds(data.dates, data.label_end, n_years=n_years, embargo=embargo, last_year=last_year)
    symbols = sorted(set(data.X.index.get_level_values("symbol")))
    next_ret = next_day_returns(panel, symbols)
    params = {"horizon": horizon, "embargo": embargo, **(ensemble_params or {})}
    results, pooled = [], []
    for fold in folds:
        result, predictions = evaluate_fold(data, fold, next_ret, ensemble_params=params, cost_bp=cost_bp)
        results.append(result)
        pooled.append(predictions)
    overall: dict[str, Any] = {}
    if pooled:
        allp = pd.concat(pooled)
        test = data.take(data.X.index.get_indexer(allp.index))
        base_rate = allp["base_rate"].to_numpy()
        kinds = [c for c in allp.columns if c not in ("combined", "y", "fwd_return", "base_rate", "fold")]
        overall = {
            "models": {k: score_predictions(allp[k], test, base_rate, next_ret, cost_bp) for k in kinds},
            "baselines": _baselines(test, base_rate, next_ret, cost_bp),
        }
    return {"folds": results, "overall": overall}


def format_table(
    result: dict[str, Any],
    keys: Sequence[str] = (
        "accuracy",
        "auc",
        "log_loss",
        "brier",
        "brier_skill",
        "ic",
        "top20_accuracy",
        "strategy_return",
        "strategy_sharpe",
        "strategy_max_drawdown",
    ),
) -> str:
    """A plain-text table of one result's models and baselines."""
    rows = {**result["models"], **result["baselines"]}
    width = max(len(k) for k in keys)
    header = "model".ljust(14) + "".join(k[:width].rjust(width + 1) for k in keys)
    lines = [header]
    for name, metrics in rows.items():
        cells = []
        for k in keys:
            v = metrics.get(k)
            cells.append(("-" if v is None else f"{v:.4f}").rjust(width + 1))
        lines.append(name.ljust(14) + "".join(cells))
    return "\n".join(lines)


def summary_line(result: dict[str, Any]) -> str:
    """ "ensemble AUC x vs best component (kind) AUC y: ..." for one evaluated window."""
    summary = result.get("summary") or {}
    ensemble_auc, best, best_auc = summary.get("ensemble_auc"), summary.get("best_component"), summary.get("best_component_auc")
    if ensemble_auc is None or best_auc is None:
        return "ensemble AUC - vs best component AUC -: the test window has one class only"
    gap = ensemble_auc - best_auc
    verdict = "no worse than its best component" if gap >= -0.01 else "WORSE than its best component by more than 0.01"
    return f"ensemble AUC {ensemble_auc:.4f} vs best component ({best}) AUC {best_auc:.4f} (gap {gap:+.4f}): {verdict}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m learning.ml.evaluation --prices DIR [--years N] [--last-year Y] [--json FILE]``, or a single
    split with ``--train-end``/``--test-start``/``--test-end``. Reads CSVs only, never the database."""
    import argparse
    import json
    from pathlib import Path

    from learning.ml.data import load_csv_dirs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prices", action="append", required=True, help="CSV directory; later ones extend earlier ones")
    parser.add_argument("--years", type=int, default=3, help="yearly walk-forward folds (ignored with --train-end)")
    parser.add_argument("--last-year", type=int, default=None)
    parser.add_argument("--train-end")
    parser.add_argument("--test-start")
    parser.add_argument("--test-end")
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    panel = load_csv_dirs(args.prices)
    if args.train_end:
        if not args.test_start:
            parser.error("--train-end needs --test-start")
        result: dict[str, Any] = evaluate_split(
            panel, train_end=args.train_end, test_start=args.test_start, test_end=args.test_end, horizon=args.horizon
        )
        print(f"train {result['train']}\ntest  {result['test']}\nweights {result['weights']}\ntimings {result['timings']}")
        print(format_table(result))
        print(summary_line(result))
    else:
        result = evaluate_walk_forward(panel, n_years=args.years, last_year=args.last_year, horizon=args.horizon)
        for fold in result["folds"]:
            print(f"\n== {fold['fold']}: train {fold['train']} test {fold['test']}")
            print(f"weights {fold['weights']} timings {fold['timings']}")
            print(format_table(fold))
        if result["overall"]:
            print("\n== pooled over the folds")
            print(format_table(result["overall"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
