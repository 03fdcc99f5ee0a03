"""What the scoreboard replays: its configuration, the prices, the forecasts every policy reads, and each
policy's target weights over the whole history. No Django (see :mod:`backtesting.scoreboard`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtesting.compute import STOCKS, BacktestSpec
from backtesting.engine import strategies
from backtesting.engine.core import only_on_change
from backtesting.engine.data import Bars, load_bars_csv_dirs
from backtesting.scoreboard.stats import BOOTSTRAP_BLOCK, BOOTSTRAP_SAMPLES, direction_labels, expanding_skill
from backtesting.walkforward import MODEL_KINDS, WalkForwardConfig, retrain_sessions, walk_forward_probabilities
from recommendations.core.policy.targets import followed_weights, params_for
from recommendations.core.policy.volatility import HORIZON, garch_series, log_returns, naive_forecasts

PROFILES: tuple[str, ...] = ("Conservative", "Moderate", "Aggressive")
BASELINES: tuple[str, ...] = ("ml_only", "equal_weight", "spy", "trend_ma", "vol_target")
#: The metrics of every column, in the order they are printed: report key -> compute_metrics key.
METRICS: dict[str, str] = {
    "cagr": "annual_return",
    "volatility": "volatility",
    "sharpe": "sharpe",
    "sortino": "sortino",
    "max_drawdown": "max_drawdown",
    "turnover": "turnover",
}
#: The moving-average crossover baseline's windows (sessions).
TREND_FAST, TREND_SLOW = 20, 100
#: The volatility-targeting baseline's annualised target per stock.
VOL_TARGET = 0.25
#: The lab's costs and execution, from its own defaults (one home for those numbers).
_LAB = BacktestSpec(system="", parameters={})

Progress = Callable[[int, int, str], None]


class ScoreboardError(ValueError):
    """The prices cannot support the requested report; the message is for people."""


def engine_name(profile: str) -> str:
    return f"engine_{profile.lower()}"


@dataclass(frozen=True)
class ScoreboardConfig:
    """What to replay. ``models[0]`` drives ``ml_only`` and the engine's tilt; every listed model is evaluated
    walk-forward (``ensemble`` brings its components ``rf`` and ``xgb`` along, for ``best_component_auc``)."""

    start: pd.Timestamp
    end: pd.Timestamp
    profiles: tuple[str, ...] = PROFILES
    models: tuple[str, ...] = ("rf",)
    retrain_every: int = 63
    min_train_days: int = 504
    horizon: int = HORIZON
    embargo: int = 5
    seed: int = 0
    commission_bps: float = _LAB.commission_bps
    slippage_bps: float = _LAB.slippage_bps
    execution: str = _LAB.execution
    bootstrap_samples: int = BOOTSTRAP_SAMPLES
    bootstrap_block: int = BOOTSTRAP_BLOCK

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", pd.Timestamp(self.start))
        object.__setattr__(self, "end", pd.Timestamp(self.end))
        if self.end < self.start:
            raise ScoreboardError("the period ends before it starts")
        for profile in self.profiles:
            params_for(profile)  # ValueError for an unknown profile
        if not self.models or any(m not in MODEL_KINDS for m in self.models):
            raise ScoreboardError(f"models must be among {', '.join(MODEL_KINDS)}")
        if self.retrain_every < 1:
            raise ScoreboardError("retrain_every must be at least 1 session")

    @property
    def evaluated_models(self) -> tuple[str, ...]:
        """Every model run walk-forward: the listed ones, plus an ensemble's components."""
        extra = ("rf", "xgb") if "ensemble" in self.models else ()
        return tuple(dict.fromkeys((*self.models, *extra)))

    def walk_forward(self, model: str) -> WalkForwardConfig:
        return WalkForwardConfig(
            model=model,
            horizon=self.horizon,
            embargo=self.embargo,
            retrain_every=self.retrain_every,
            min_train_days=self.min_train_days,
            seed=self.seed,
        )


@dataclass
class Forecasts:
    """Everything the policies read, per day (rows: the stocks' calendar) and symbol, made at each close."""

    volatility: pd.DataFrame  # GJR-GARCH forecast of the next H sessions' volatility (annualised)
    naive: pd.DataFrame  # the naive 20-day estimate
    p_up: dict[str, pd.DataFrame]  # each evaluated model's walk-forward P(up over H)
    payoff: pd.DataFrame  # the driving model's payoff ratio (Kelly bound)
    skill: pd.DataFrame  # the driving model's demonstrated skill in [0, 1]
    label_up: pd.DataFrame  # 1/0 outcome of each day's H-session label, NaN where incomplete (scoring only)
    label_end: np.ndarray  # (T, N) row of each label's last bar, -1 where incomplete
    retrains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def load_prices(directories: Sequence[str | Path], *, end: pd.Timestamp | str | None = None) -> tuple[Bars, Bars | None]:
    """The five stocks present in ``directories`` (``<DIR>/<SYMBOL>.csv``, a later directory wins on a shared
    date) and SPY when present, up to ``end``; SPY is aligned to the stocks' calendar."""
    dirs = [Path(d) for d in directories]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        raise ScoreboardError(f"no such directory: {', '.join(missing)}")
    present = [s for s in STOCKS if any((d / f"{s}.csv").is_file() for d in dirs)]
    if not present:
        raise ScoreboardError(f"none of {', '.join(STOCKS)} has a CSV file in {', '.join(map(str, dirs))}")
    stocks = load_bars_csv_dirs(dirs, present)
    if end is not None:
        stocks = stocks.between(None, end)
    spy = align(load_bars_csv_dirs(dirs, ["SPY"]), stocks.dates) if any((d / "SPY.csv").is_file() for d in dirs) else None
    return stocks, spy


def align(bars: Bars, dates: pd.DatetimeIndex) -> Bars:
    """``bars`` on the calendar ``dates`` (NaN where it has no bar)."""
    arrays = {
        name: pd.DataFrame(getattr(bars, name), index=bars.dates).reindex(dates).to_numpy(dtype=float)
        for name in ("open", "high", "low", "close")
    }
    return Bars(dates=dates, symbols=bars.symbols, **arrays)


def step_counts(stocks: Bars, config: ScoreboardConfig) -> dict[str, int]:
    retrains = sum(int(retrain_sessions(stocks.n_days, config.walk_forward(m)).size) for m in config.evaluated_models)
    policies = len(config.profiles) + len(BASELINES)
    return {"garch": len(stocks.symbols), "models": retrains, "policies": policies}


def compute_forecasts(
    stocks: Bars, spy: Bars | None, config: ScoreboardConfig, *, progress: Callable[[str], None] | None = None
) -> Forecasts:
    """Volatility forecasts and walk-forward direction probabilities for every session of ``stocks``."""
    tick = progress or (lambda stage: None)
    close = stocks.close_frame()
    returns = log_returns(close)
    garch = {}
    for symbol in close.columns:
        garch[symbol] = garch_series(returns[symbol], horizon=config.horizon)
        tick(f"GARCH {symbol}")
    volatility = pd.DataFrame(garch, index=close.index)
    p_up: dict[str, pd.DataFrame] = {}
    payoff: dict[str, pd.DataFrame] = {}
    retrains: dict[str, list[dict[str, Any]]] = {}
    for model in config.evaluated_models:

        def fitted(done: int, total: int, stage: str, model: str = model) -> None:
            tick(f"{model}: {stage}")

        result = walk_forward_probabilities(stocks, spy, config.walk_forward(model), progress=fitted)
        p_up[model] = pd.DataFrame(result.p_up, index=close.index, columns=close.columns)
        payoff[model] = pd.DataFrame(result.payoff, index=close.index, columns=close.columns)
        retrains[model] = result.retrains
    labels, ends = direction_labels(close, config.horizon)
    driver = config.models[0]
    return Forecasts(
        volatility=volatility,
        naive=naive_forecasts(returns),
        p_up=p_up,
        payoff=payoff[driver],
        skill=expanding_skill(p_up[driver], labels, ends),
        label_up=labels,
        label_end=ends,
        retrains=retrains,
    )


def policy_weights(stocks: Bars, forecasts: Forecasts, config: ScoreboardConfig) -> dict[str, np.ndarray]:
    """Every stock policy's (T, N) target weights over the whole history (row t decided at t's close; an
    all-NaN row is "no order"). SPY is simulated on its own bars (:func:`scoreboard`)."""
    close = stocks.close_frame()
    values = stocks.close
    n_sym = len(stocks.symbols)
    p_up = forecasts.p_up[config.models[0]]
    out: dict[str, np.ndarray] = {}
    for profile in config.profiles:
        weights = followed_weights(
            close, forecasts.volatility, profile, p_up=p_up, skill=forecasts.skill, payoff=forecasts.payoff
        )
        out[engine_name(profile)] = weights.to_numpy()
    p = p_up.to_numpy(dtype=float)
    tradable = np.isfinite(values)
    out["ml_only"] = only_on_change(np.where(tradable & np.isfinite(p) & (p > 0.5), 1.0 / n_sym, 0.0))
    out["equal_weight"] = strategies.buy_and_hold(values, stocks.dates, rebalance="monthly")
    out["trend_ma"] = strategies.ma_crossover(values, TREND_FAST, TREND_SLOW)[0]
    naive = forecasts.naive.to_numpy(dtype=float)
    ok = tradable & np.isfinite(naive) & (naive > 0)
    out["vol_target"] = np.where(ok, VOL_TARGET / np.where(ok, naive, 1.0), 0.0) / n_sym
    return out


def profiles_from(names: Iterable[str]) -> tuple[str, ...]:
    """Profile names as typed (any case) in :data:`PROFILES`' spelling; ValueError for an unknown one."""
    lookup = {p.lower(): p for p in PROFILES}
    out = []
    for name in names:
        if name.lower() not in lookup:
            raise ScoreboardError(f"unknown profile {name!r}; choose among {', '.join(PROFILES)}")
        out.append(lookup[name.lower()])
    return tuple(dict.fromkeys(out))
