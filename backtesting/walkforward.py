"""Walk-forward model probabilities inside a backtest: the learning app's features, labels, models and
purged/embargoed splits, retrained on an expanding window as the backtest moves forward. No Django.

What day ``t`` may see. The history's sessions are numbered 0..T-1 (every stored session up to the
period's end; the simulated window starts at session ``first_session``). Models are retrained at sessions
``s_k = max(first_session, min_train_days) + k * retrain_every``: the first model is fitted on every
session before the window (when there are at least ``min_train_days`` of them), then refitted every
``retrain_every`` sessions inside it. The model fitted at ``s_k`` predicts every session from
``s_k`` to ``s_{k+1} - 1``, after that session's close (the engine then trades on the next bar). Its
training rows are those whose label window (``t .. t + horizon``) ends at least ``embargo`` sessions
before ``s_k`` (:func:`learning.ml.validation.train_positions_before`): so a prediction used on day ``t``
comes from a model whose training data ends ``embargo`` sessions before the first day it predicts, and
at least that long before ``t``. Features are causal (the learning app proves it by truncation), so
computing them once on the whole history gives every day the value it had at its own close. The
schedule depends only on ``first_session`` and ``min_train_days``, so truncating the data at any day leaves
every earlier prediction, and the backtest up to it, unchanged (``backtesting/tests/test_ml_systems.py``
checks it).

Also per retrain: each symbol's payoff ratio ``b`` (mean forward return of the training rows that went
up over that of the rows that did not, :func:`learning.ml.pipeline.return_stats`), which the engine
policy's Kelly bound needs.

Backtest bars carry no volume, so the volume feature (``volume_z_20``) is left out. scikit-learn and
XGBoost are imported by the models when they fit, never when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtesting.engine.data import Bars

#: Features the backtest can compute from open/high/low/close alone (everything but volume).
EXCLUDED_FEATURES = ("volume_z_20",)
MODEL_KINDS = ("rf", "xgb", "ensemble")

#: Small, cheap defaults: a backtest refits the model dozens of times.
CHEAP_PARAMS: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": 100, "max_depth": 6, "min_samples_leaf": 100, "n_jobs": 1},
    "xgb": {"n_estimators": 150, "learning_rate": 0.05, "max_depth": 3, "n_jobs": 1},
}

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class WalkForwardConfig:
    model: str = "rf"
    horizon: int = 5
    embargo: int = 5
    retrain_every: int = 63
    min_train_days: int = 504
    seed: int = 0
    model_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_KINDS)}")
        if self.horizon < 1 or self.embargo < 0 or self.retrain_every < 1 or self.min_train_days < 1:
            raise ValueError("horizon, retrain_every and min_train_days must be positive and embargo >= 0")


@dataclass(frozen=True)
class WalkForwardResult:
    """``p_up[t, i]``: P(symbol i's close is higher ``horizon`` sessions after day t), made after day t's close
    by a model that never saw a label ending within ``embargo`` sessions of its first prediction day; NaN
    where no model existed yet. ``payoff[t, i]``: the payoff ratio of the same model's training rows."""

    dates: pd.DatetimeIndex
    symbols: tuple[str, ...]
    p_up: np.ndarray  # (T, N)
    payoff: np.ndarray  # (T, N)
    retrains: list[dict[str, Any]]


def bars_to_panel(stocks: Bars, spy: Bars | None) -> dict[str, pd.DataFrame]:
    """The learning app's panel (one frame per symbol, its own trading days only) from engine bars."""
    panel: dict[str, pd.DataFrame] = {}
    sources = [(stocks, s) for s in stocks.symbols] + ([(spy, s) for s in spy.symbols] if spy is not None else [])
    for bars, symbol in sources:
        j = bars.symbols.index(symbol)
        frame = pd.DataFrame(
            {
                "open": bars.open[:, j],
                "high": bars.high[:, j],
                "low": bars.low[:, j],
                "close": bars.close[:, j],
            },
            index=pd.DatetimeIndex(bars.dates, name="date"),
        )
        frame = frame[frame["close"].notna()]
        frame["adj_close"] = frame["close"]
        frame["volume"] = 1.0
        panel[symbol] = frame
    return panel


def retrain_sessions(n_days: int, config: WalkForwardConfig, *, first_session: int = 0) -> np.ndarray:
    """Session indices where a model is (re)fitted: the first at ``first_session`` (the window's first
    session) or, with fewer sessions of history before it, at ``min_train_days``; then every
    ``retrain_every`` sessions. Independent of the sessions after any given one."""
    first = max(int(first_session), config.min_train_days)
    return np.arange(first, n_days, config.retrain_every, dtype=np.int64)


def _new_model(config: WalkForwardConfig) -> Any:
    from learning.ml.ensemble import StackedEnsemble
    from learning.ml.models import make_model

    if config.model == "ensemble":
        base = {kind: {**CHEAP_PARAMS[kind], **config.model_params.get(kind, {})} for kind in ("rf", "xgb")}
        return StackedEnsemble(base=base, horizon=config.horizon, embargo=config.embargo, inner_years=2, seed=config.seed)
    params = {**CHEAP_PARAMS[config.model], **config.model_params}
    return make_model(config.model, seed=config.seed, **params)


def walk_forward_probabilities(
    stocks: Bars,
    spy: Bars | None,
    config: WalkForwardConfig,
    *,
    first_session: int = 0,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """P(up) for every stock and session from models retrained walk-forward (see the module docstring).

    ``first_session``: the first session that needs a prediction (the backtest window's first row); the
    sessions before it are training history. ``progress(done, total, stage)`` is called after each retrain.
    Each entry of ``retrains`` says what that model saw: ``history_sessions`` (sessions 0..its first
    prediction day, ``history_start``..``date``), the labelled ``rows`` it was fitted on, the first and last
    of their dates (``train_start``, ``train_end``) and the last label day (``label_end``).
    """
    from learning.ml.dataset import build_dataset
    from learning.ml.features import FEATURE_NAMES
    from learning.ml.models import ModelError
    from learning.ml.pipeline import return_stats
    from learning.ml.validation import train_positions_before
    from recommendations.core.sizing import payoff_ratio

    n_days, n_sym = stocks.n_days, len(stocks.symbols)
    p_up = np.full((n_days, n_sym), np.nan)
    payoff = np.full((n_days, n_sym), np.nan)
    sessions = retrain_sessions(n_days, config, first_session=first_session)
    retrains: list[dict[str, Any]] = []
    if sessions.size == 0:
        return WalkForwardResult(stocks.dates, stocks.symbols, p_up, payoff, retrains)

    names = [f for f in FEATURE_NAMES if f not in EXCLUDED_FEATURES]
    panel = bars_to_panel(stocks, spy)
    benchmark = spy.symbols[0] if spy is not None else "SPY"
    data = build_dataset(panel, horizon=config.horizon, symbols=list(stocks.symbols), benchmark=benchmark, feature_names=names)
    calendar = pd.DatetimeIndex(stocks.dates)
    label_dates = data.dates
    feature_rows = data.features
    feature_dates = pd.DatetimeIndex(feature_rows.index.get_level_values("date"))
    feature_syms = feature_rows.index.get_level_values("symbol")
    col_of = {s: i for i, s in enumerate(stocks.symbols)}
    row_of_date = calendar.get_indexer(feature_dates)
    col_of_row = np.array([col_of[s] for s in feature_syms], dtype=np.int64)

    model: Any = None
    stats: dict[str, Any] = {}
    for k, start in enumerate(sessions):
        end = int(sessions[k + 1]) if k + 1 < sessions.size else n_days
        test_start = calendar[start]
        train = train_positions_before(
            label_dates, data.label_end, test_start=test_start, embargo=config.embargo, calendar=calendar
        )
        entry: dict[str, Any] = {
            "session": int(start),
            "date": test_start.strftime("%Y-%m-%d"),
            "history_sessions": int(start) + 1,
            "history_start": calendar[0].strftime("%Y-%m-%d"),
            "rows": len(train),
        }
        if len(train) and data.y.iloc[train].nunique() == 2:
            subset = data.take(train)
            try:
                model = _new_model(config).fit(subset.X, subset.y)
                stats = return_stats(subset)
                entry["train_start"] = label_dates[train].min().strftime("%Y-%m-%d")
                entry["train_end"] = label_dates[train].max().strftime("%Y-%m-%d")
                entry["label_end"] = pd.DatetimeIndex(data.label_end.iloc[train]).max().strftime("%Y-%m-%d")
            except ModelError as exc:
                entry["error"] = str(exc)
        else:
            entry["error"] = "not enough labelled rows of both classes"
        entry["fitted"] = "error" not in entry
        if model is not None:
            rows = np.flatnonzero((row_of_date >= start) & (row_of_date < end))
            if rows.size:
                proba = np.asarray(model.predict_proba(feature_rows.iloc[rows]), dtype=float)
                p_up[row_of_date[rows], col_of_row[rows]] = proba
                for sym, j in col_of.items():
                    s = stats.get(sym) or stats.get("all") or {}
                    payoff[start:end, j] = payoff_ratio(float(s.get("avg_up", math.nan)), float(s.get("avg_down", math.nan)))
        retrains.append(entry)
        if progress is not None:
            progress(k + 1, int(sessions.size), f"model {k + 1} of {sessions.size} fitted ({entry['date']})")
    return WalkForwardResult(stocks.dates, stocks.symbols, p_up, payoff, retrains)
