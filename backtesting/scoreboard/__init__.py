"""The scoreboard: the risk-first policy replayed walk-forward against the simple baselines. No Django, no database.

:func:`scoreboard` takes the stocks' bars (and SPY's, when there are any) from the first stored day to the
period's end and returns the report that ``manage.py policy_report`` prints and writes as JSON. Every policy
is simulated by :func:`backtesting.engine.core.simulate` on the period's bars only, starting in cash, with
the lab's costs and execution (:class:`backtesting.compute.BacktestSpec`'s defaults: 1 bp commission, 2 bp
slippage, next-open fills). Indicators, volatility forecasts and models use every bar before the period
(warm-up); nothing is traded there. The first order is decided at the close of the period's first session
and fills at the next open, as for every other day.

The policies (target weights decided at each close, from data up to that close only):

- ``engine_<profile>``: :func:`recommendations.core.policy.targets.target_weights` with GJR-GARCH volatility
  forecasts, tilted by the walk-forward direction model's P(up) in proportion to its demonstrated skill, and
  followed with the profile's minimum trade (:func:`~recommendations.core.policy.targets.with_min_trade`). The
  policy's parameters are the frozen ones of :func:`~recommendations.core.policy.targets.params_for`.
- ``ml_only``: the direction model alone, long a 1/N slot while P(up) > 0.5, flat otherwise.
- ``equal_weight``: the stocks at equal weight, rebalanced on the first session of each month.
- ``spy``: SPY bought on the first decision and held (only when SPY prices were given).
- ``trend_ma``: the 20/100 moving-average crossover on each stock, a 1/N slot each.
- ``vol_target``: each stock scaled to 25 % volatility by its 20-day estimate, divided by N, rebalanced daily.

The direction model (:func:`backtesting.walkforward.walk_forward_probabilities`): retrained every
``retrain_every`` sessions from session ``min_train_days`` on, each model fitted only on labels that ended an
embargo before its first prediction day. Its skill on symbol ``i`` for day ``t`` is
``max(0, 2 * (AUC - 0.5))`` of its out-of-sample predictions for ``i`` on the days whose labels ended before
``t`` (expanding; 0 until :data:`MIN_SKILL_LABELS` such predictions of both outcomes exist): the tilt only
ever uses skill the model has already shown.

Units: weights are fractions of equity; volatilities are annualised fractions; returns are simple daily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from backtesting.engine.core import Execution, SimResult, simulate
from backtesting.engine.data import Bars
from backtesting.engine.metrics import compute_metrics
from backtesting.scoreboard.inputs import (
    BASELINES,
    METRICS,
    PROFILES,
    Forecasts,
    Progress,
    ScoreboardConfig,
    ScoreboardError,
    align,
    compute_forecasts,
    engine_name,
    load_prices,
    policy_weights,
    profiles_from,
    step_counts,
)
from backtesting.scoreboard.stats import (
    MIN_SKILL_LABELS,
    direction_labels,
    expanding_auc,
    expanding_skill,
    roc_auc,
    sharpe_difference_interval,
)
from recommendations.core.policy.targets import params_for
from recommendations.core.policy.volatility import evaluate_forecasts, log_returns

__all__ = [
    "BASELINES",
    "METRICS",
    "MIN_SKILL_LABELS",
    "PROFILES",
    "Forecasts",
    "Scoreboard",
    "ScoreboardConfig",
    "ScoreboardError",
    "align",
    "compute_forecasts",
    "direction_labels",
    "engine_name",
    "expanding_auc",
    "expanding_skill",
    "load_prices",
    "policy_weights",
    "profiles_from",
    "roc_auc",
    "scoreboard",
    "sharpe_difference_interval",
]


@dataclass
class Scoreboard:
    """:attr:`report` is the JSON document; the rest is for the printed summary."""

    report: dict[str, Any]
    model: str
    retrain_every: int
    retrains: dict[str, int]
    first_model: str | None  # the date of the driving model's first fit
    targets: dict[str, float]  # engine policy -> its profile's target volatility
    warmup_sessions: int  # sessions before the period that indicators and models could use
    component_aucs: dict[str, float | None]
    sims: dict[str, SimResult] = field(default_factory=dict)  # each policy's simulation of the period


def _carry_in(weights: np.ndarray, start: int) -> np.ndarray:
    """Rows ``start:``, with row ``start`` the order in force there (the last row with an order at or before
    it), so a warmed-up system starts the period holding what it holds, not waiting for its signal to change."""
    out = np.array(weights[start:], dtype=float)
    if start > 0 and out.size and np.isnan(out[0]).all():
        ordered = np.flatnonzero(~np.isnan(weights[: start + 1]).all(axis=1))
        if ordered.size:
            out[0] = np.nan_to_num(weights[ordered[-1]], nan=0.0)
    return out


def _metrics(equity: np.ndarray, turnover: np.ndarray) -> dict[str, float | None]:
    values = compute_metrics(equity, turnover=turnover)
    return {key: _num(values[name]) for key, name in METRICS.items()}


def _num(value: Any) -> float | None:
    x = float(np.asarray(value))
    return float(f"{x:.10g}") if math.isfinite(x) else None


def _yearly(sim: SimResult) -> dict[str, dict[str, float | None]]:
    """Each calendar year's metrics from one simulation of the whole period; a year's first return runs from
    the previous year's last close."""
    years = sim.dates.year
    out: dict[str, dict[str, float | None]] = {}
    for year in np.unique(years):
        rows = np.flatnonzero(years == year)
        lo = max(rows[0] - 1, 0)
        hi = rows[-1] + 1
        if hi - lo < 3:  # fewer than two daily returns: no volatility
            continue
        out[str(int(year))] = _metrics(sim.equity[0, lo:hi], sim.turnover[0, lo:hi])
    return out


def _period_auc(p_up: pd.DataFrame, forecasts: Forecasts, rows: slice) -> float:
    p = p_up.to_numpy(dtype=float)[rows]
    y = forecasts.label_up.to_numpy(dtype=float)[rows]
    return roc_auc(p.ravel(), y.ravel())


def scoreboard(
    stocks: Bars,
    spy: Bars | None,
    config: ScoreboardConfig,
    *,
    forecasts: Forecasts | None = None,
    progress: Progress | None = None,
) -> Scoreboard:
    """The report (see the module docstring) for ``config``'s period; ``stocks`` and ``spy`` hold every bar up to
    the period's end (later bars are ignored). ``forecasts``: :func:`compute_forecasts` of the same bars and
    config, when already computed. ``progress(done, total, stage)`` after each step."""
    stocks = stocks.between(None, config.end)
    dates = stocks.dates
    start = int(np.searchsorted(dates, config.start, side="left"))
    n_period = stocks.n_days - start
    if n_period < 2:
        raise ScoreboardError(f"the prices have {max(n_period, 0)} session(s) in {config.start:%Y-%m-%d}..{config.end:%Y-%m-%d}")
    if spy is not None:
        spy = align(spy, dates)
        if not np.isfinite(spy.close[start:]).any():
            spy = None

    steps = step_counts(stocks, config)
    total = sum(steps.values())
    done = 0

    def tick(stage: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(done, total), total, stage)

    if forecasts is None:
        forecasts = compute_forecasts(stocks, spy, config, progress=tick)
    else:
        done = steps["garch"] + steps["models"]
    weights = policy_weights(stocks, forecasts, config)
    period = stocks.between(dates[start], None)

    def run(bars: Bars, w: np.ndarray) -> SimResult:
        return simulate(
            bars,
            w,
            execution=cast(Execution, config.execution),
            commission_bps=config.commission_bps,
            slippage_bps=config.slippage_bps,
            allow_short=False,
        )

    sims: dict[str, SimResult] = {}
    for name, w in weights.items():
        sims[name] = run(period, _carry_in(w, start))
        tick(f"simulated {name}")
    if spy is not None:
        spy_period = spy.between(dates[start], None)
        order = np.full((n_period, 1), np.nan)
        order[0] = 1.0
        sims["spy"] = run(spy_period, order)
    tick("simulated spy")

    order_names = [engine_name(p) for p in config.profiles] + [b for b in BASELINES if b in sims]
    policies = {name: _metrics(sims[name].equity[0], sims[name].turnover[0]) for name in order_names}
    yearly = {name: _yearly(sims[name]) for name in order_names}
    years: dict[str, dict[str, Any]] = {}
    for year in sorted({y for per in yearly.values() for y in per}):
        years[year] = {"policies": {name: yearly[name][year] for name in order_names if year in yearly[name]}}

    ci: list[float | None] | None = None
    moderate = engine_name("Moderate")
    if moderate in sims:
        low, high = sharpe_difference_interval(
            sims[moderate].returns[0, 1:],
            sims["equal_weight"].returns[0, 1:],
            samples=config.bootstrap_samples,
            block=config.bootstrap_block,
            seed=config.seed,
        )
        ci = [_num(low), _num(high)]

    rows = slice(start, None)
    driver = config.models[0]
    aucs = {m: _period_auc(p, forecasts, rows) for m, p in forecasts.p_up.items()}
    components = [m for m in config.evaluated_models if m != "ensemble"] or [driver]
    best = max((aucs[m] for m in components if math.isfinite(aucs[m])), default=math.nan)
    returns = log_returns(stocks.close_frame())
    garch_score = evaluate_forecasts(forecasts.volatility.iloc[rows], returns.iloc[rows], horizon=config.horizon)
    naive_score = evaluate_forecasts(forecasts.naive.iloc[rows], returns.iloc[rows], horizon=config.horizon)

    report = {
        "period": {
            "start": period.dates[0].strftime("%Y-%m-%d"),
            "end": period.dates[-1].strftime("%Y-%m-%d"),
            "days": int(n_period),
        },
        "policies": policies,
        "years": years,
        "sharpe_difference_ci": ci,
        "models": {
            "ensemble_auc": _num(aucs[driver]),
            "best_component_auc": _num(best),
            "volatility_qlike": _num(garch_score["qlike"]),
            "naive_volatility_qlike": _num(naive_score["qlike"]),
        },
    }
    fitted = [r for r in forecasts.retrains.get(driver, []) if r.get("fitted")]
    return Scoreboard(
        report=report,
        model=driver,
        retrain_every=config.retrain_every,
        retrains={m: sum(1 for r in rs if r.get("fitted")) for m, rs in forecasts.retrains.items()},
        first_model=fitted[0]["date"] if fitted else None,
        targets={engine_name(p): params_for(p).target_vol for p in config.profiles},
        warmup_sessions=start,
        component_aucs={m: _num(v) for m, v in aucs.items()},
        sims=sims,
    )
