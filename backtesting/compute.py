"""One backtest from bars to a JSON-ready report: the system (or sweep), the benchmarks, metrics, validation.

No Django: :func:`backtest_compute` takes aligned bars and a validated :class:`BacktestSpec` and returns
plain dicts and lists, so the same numbers come out of the Celery task, ``manage.py run_backtest`` and a
notebook. Same bars, spec and seed give the same numbers (every random procedure takes the seed).

What is compared (all with the same costs and next-bar execution):
- the strategy: the parameter set with the best in-sample Sharpe when the spec is a sweep (chosen with
  in-sample data only; its out-of-sample figures are the honest ones);
- SPY bought once and held: the honest benchmark, because the five stocks were picked with hindsight;
- the five stocks at equal weight, rebalanced monthly: what the strategy's universe did on its own.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from backtesting.engine.core import Execution, simulate
from backtesting.engine.data import Bars
from backtesting.engine.metrics import compute_metrics, drawdown
from backtesting.engine.trades import round_trips, trade_metrics
from backtesting.systems import SYSTEMS, SystemRun, parameter_grid, parameter_sets

STOCKS: tuple[str, ...] = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")
BENCHMARK = "SPY"
#: Annual fee on short notional (bps): shorting is never free, even in a backtest.
SHORT_BORROW_BPS = 50.0
#: Charts get at most this many points per series; metrics always use every day.
MAX_CURVE_POINTS = 1500
#: Fewer trading days than this cannot support an in-sample / out-of-sample report.
MIN_DAYS = 60
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_BLOCK = 20
PERMUTATIONS = 1000
#: Results format; bump when the shape of ``results`` changes.
RESULTS_VERSION = 2

Progress = Callable[[int, str], None]


@dataclass(frozen=True)
class BacktestSpec:
    """A validated request. ``parameters`` maps each parameter to its list of values (one unless swept)."""

    system: str
    parameters: dict[str, list[Any]]
    start: date | None = None
    end: date | None = None
    split: date | None = None
    commission_bps: float = 1.0
    slippage_bps: float = 2.0
    execution: str = "next_open"
    seed: int = 0


@dataclass(frozen=True)
class BacktestOutcome:
    results: dict[str, Any]
    curve: dict[str, Any]
    data_hash: str


class DataError(ValueError):
    """The bars cannot support this backtest (too few days, no benchmark); the message is for people."""


def _num(value: Any) -> float | None:
    """A JSON-safe number: NaN and infinities become None; 10 significant digits are plenty."""
    x = float(value)
    if not math.isfinite(x):
        return None
    return float(f"{x:.10g}")


def _metrics_dict(metrics: dict[str, np.ndarray], index: int | None = None) -> dict[str, float | None]:
    return {k: _num(v if index is None else np.asarray(v)[index]) for k, v in metrics.items()}


def bars_hash(bars: Bars) -> str:
    """sha256 of what the engine saw: symbols, dates and every OHLC value (float64 bytes)."""
    digest = hashlib.sha256()
    digest.update(",".join(bars.symbols).encode())
    digest.update(np.asarray(bars.dates.asi8).tobytes())
    for name in ("open", "high", "low", "close"):
        digest.update(np.ascontiguousarray(getattr(bars, name), dtype=np.float64).tobytes())
    return digest.hexdigest()


def split_universe(bars: Bars) -> tuple[Bars, Bars]:
    """The five stocks and SPY on SPY's trading days (days where no stock trades are dropped)."""
    if BENCHMARK not in bars.symbols:
        raise DataError("There are no SPY prices, so there is no benchmark.")
    stock_cols = [bars.symbols.index(s) for s in STOCKS if s in bars.symbols]
    if not stock_cols:
        raise DataError("There are no prices for any of the five stocks.")
    spy = bars.symbols.index(BENCHMARK)
    keep = ~np.isnan(bars.close[:, spy]) & ~np.isnan(bars.close[:, stock_cols]).all(axis=1)
    rows = np.flatnonzero(keep)

    def take(columns: list[int]) -> Bars:
        cols = np.asarray(columns, dtype=np.intp)
        return Bars(
            dates=bars.dates[rows],
            symbols=tuple(bars.symbols[c] for c in columns),
            open=bars.open[np.ix_(rows, cols)],
            high=bars.high[np.ix_(rows, cols)],
            low=bars.low[np.ix_(rows, cols)],
            close=bars.close[np.ix_(rows, cols)],
        )

    return take(stock_cols), take([spy])


def monthly_returns(equity: np.ndarray, dates: pd.DatetimeIndex) -> list[dict[str, Any]]:
    """Calendar-month returns of an equity curve: ``[{"year", "months": [12 values or None]}]``, oldest first.

    A month's return runs from the previous month's last close (the first close for the first month) to
    its own last close; months outside the period are None.
    """
    series = pd.Series(np.asarray(equity, dtype=float), index=dates)
    month_end = series.groupby([dates.year, dates.month]).last()
    previous = month_end.shift(1)
    previous.iloc[0] = series.iloc[0]
    returns = month_end / previous - 1.0
    out: dict[int, list[float | None]] = {}
    for (year, month), value in returns.items():
        out.setdefault(int(year), [None] * 12)[int(month) - 1] = _num(value)
    return [{"year": year, "months": months} for year, months in sorted(out.items())]


def _jsonable(value: Any) -> Any:
    """Plain JSON types (numpy scalars become Python numbers, NaN None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value)
    return value


def _downsample_index(n: int, limit: int = MAX_CURVE_POINTS) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    idx = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    return idx


def _split_row(dates: pd.DatetimeIndex, spec_split: date | None) -> int:
    """Index of the first out-of-sample day: the requested split, else 70 % of the days."""
    n = len(dates)
    first = int(np.searchsorted(dates, pd.Timestamp(spec_split))) if spec_split is not None else int(n * 0.7)
    if not 20 <= first <= n - 20:
        raise DataError(
            f"The split {spec_split or 'at 70 %'} leaves {first} in-sample and {n - first} out-of-sample days; "
            "each side needs at least 20."
        )
    return first


def backtest_compute(*, spec: BacktestSpec, bars: Bars, progress: Progress | None = None) -> BacktestOutcome:
    """Run ``spec`` on ``bars`` (the five stocks and SPY, any extra symbols ignored).

    Costs: commission + slippage in bps of every trade's notional, on the strategy and on both benchmarks;
    shorts pay :data:`SHORT_BORROW_BPS` a year. Raises :class:`DataError` when the data cannot support it.
    """
    from backtesting.engine import strategies, validation

    report = progress or (lambda percent, stage: None)
    report(5, "preparing data")
    bars = bars.between(spec.start, spec.end)
    stocks, spy = split_universe(bars)
    n_days = stocks.n_days
    if n_days < MIN_DAYS:
        raise DataError(f"The period has {n_days} trading days with prices; a backtest needs at least {MIN_DAYS}.")
    first_oos = _split_row(stocks.dates, spec.split)
    execution: Execution = "next_close" if spec.execution == "next_close" else "next_open"
    costs: dict[str, Any] = {"execution": execution, "commission_bps": spec.commission_bps, "slippage_bps": spec.slippage_bps}

    report(15, "simulating")
    system = SYSTEMS[spec.system]
    grid = parameter_grid(spec.parameters, spec.system)
    sets = parameter_sets(grid)
    extra: dict[str, Any] = {}
    if system.simulate is not None:
        run = SystemRun(
            stocks=stocks,
            spy=spy,
            execution=execution,
            commission_bps=spec.commission_bps,
            slippage_bps=spec.slippage_bps,
            borrow_bps=SHORT_BORROW_BPS,
            seed=spec.seed,
            progress=lambda percent, stage: report(15 + int(0.18 * percent), stage),
        )
        sim, extra = system.simulate(run, grid)
    else:
        weights = system.weights(stocks.close, stocks.dates, grid)
        sim = simulate(stocks, weights, borrow_bps=SHORT_BORROW_BPS, **costs)
    spy_sim = simulate(spy, strategies.buy_and_hold(spy.close, spy.dates, rebalance="none"), **costs)
    ew_sim = simulate(stocks, strategies.buy_and_hold(stocks.close, stocks.dates, rebalance="monthly"), **costs)

    report(35, "computing metrics")
    spy_eq, ew_eq = spy_sim.equity[0], ew_sim.equity[0]
    full = compute_metrics(sim.equity, benchmark_equity=spy_eq, turnover=sim.turnover, exposure=sim.gross_exposure)
    ins = compute_metrics(sim.equity[:, :first_oos], benchmark_equity=spy_eq[:first_oos])
    oos = compute_metrics(sim.equity[:, first_oos - 1 :], benchmark_equity=spy_eq[first_oos - 1 :])
    # Chosen on in-sample Sharpe only, so its out-of-sample figures are not flattered by the choice.
    is_sharpe = np.where(np.isfinite(ins["sharpe"]), ins["sharpe"], -np.inf)
    pick = int(np.argmax(is_sharpe))

    rate = (spec.commission_bps + spec.slippage_bps) / 1e4

    def side(equity: np.ndarray, turnover: np.ndarray, exposure: np.ndarray, result: Any, p: int) -> dict[str, Any]:
        trips = round_trips(result.shares[p], result.flows(p), costs=result.symbol_costs(p, rate))
        full_metrics = _metrics_dict(compute_metrics(equity, benchmark_equity=spy_eq, turnover=turnover, exposure=exposure))
        full_metrics.update({k: _num(v) for k, v in trade_metrics(trips["pnl"], trips["return"]).items()})
        return {
            "full": full_metrics,
            "in_sample": _metrics_dict(compute_metrics(equity[:first_oos], benchmark_equity=spy_eq[:first_oos])),
            "out_of_sample": _metrics_dict(compute_metrics(equity[first_oos - 1 :], benchmark_equity=spy_eq[first_oos - 1 :])),
        }

    metrics = {
        "strategy": side(sim.equity[pick], sim.turnover[pick], sim.gross_exposure[pick], sim, pick),
        "spy": side(spy_eq, spy_sim.turnover[0], spy_sim.gross_exposure[0], spy_sim, 0),
        "equal_weight": side(ew_eq, ew_sim.turnover[0], ew_sim.gross_exposure[0], ew_sim, 0),
    }

    report(50, "bootstrap confidence intervals")
    returns = sim.returns[:, 1:]  # day 0 is the starting cash: no return
    boot = validation.block_bootstrap(returns[pick], n_boot=BOOTSTRAP_SAMPLES, block=BOOTSTRAP_BLOCK, seed=spec.seed)
    boot_oos = validation.block_bootstrap(
        returns[pick, first_oos - 1 :], n_boot=BOOTSTRAP_SAMPLES, block=BOOTSTRAP_BLOCK, seed=spec.seed
    )

    report(65, "permutation test")
    held = sim.weights[pick, :-1]  # weights held over the next day
    asset_returns = sim.close[1:] / sim.close[:-1] - 1.0
    perm = validation.permutation_test(held, asset_returns, n_perm=PERMUTATIONS, seed=spec.seed)
    exposed = bool(np.abs(held).sum() > 0)

    validation_out: dict[str, Any] = {
        "bootstrap": {
            "samples": BOOTSTRAP_SAMPLES,
            "block_days": BOOTSTRAP_BLOCK,
            "full": {k: [_num(x) for x in v] for k, v in boot.items()},
            "out_of_sample": {k: [_num(x) for x in v] for k, v in boot_oos.items()},
        },
        "permutation": {
            "permutations": PERMUTATIONS,
            "sharpe": _num(perm["sharpe"]),
            "p_value": _num(perm["p_value"]) if exposed else None,
            "null_mean_sharpe": _num(perm["null_mean"]),
        },
        "deflated_sharpe": None,
        "pbo": None,
        "walk_forward": None,
    }

    n_sets = len(sets)
    if n_sets > 1:
        report(80, "overfitting statistics of the sweep")
        dsr = validation.deflated_sharpe_ratio(returns, selected=pick)
        validation_out["deflated_sharpe"] = {k: _num(v) for k, v in dsr.items()}
        n_splits = 10 if returns.shape[1] >= 200 else 4
        pbo = validation.probability_of_backtest_overfitting(returns, n_splits=n_splits)
        validation_out["pbo"] = {"pbo": _num(pbo["pbo"]), "splits": n_splits, "combinations": _num(pbo["n_combinations"])}
        train, test = 756, 252
        if returns.shape[1] >= train + test:
            wf = validation.walk_forward(returns, train_days=train, test_days=test)
            wf_r = wf["returns"][np.isfinite(wf["returns"])]
            validation_out["walk_forward"] = {
                "train_days": train,
                "test_days": test,
                "windows": len(wf["window_starts"]),
                "out_of_sample": _metrics_dict(compute_metrics(np.concatenate([[1.0], np.cumprod(1.0 + wf_r)]))),
            }

    report(90, "preparing charts")
    idx = _downsample_index(n_days)
    curve = {
        "dates": [d.strftime("%Y-%m-%d") for d in stocks.dates[idx]],
        "strategy": [_num(v) for v in sim.equity[pick, idx]],
        "spy": [_num(v) for v in spy_eq[idx]],
        "equal_weight": [_num(v) for v in ew_eq[idx]],
        "strategy_drawdown": [_num(v) for v in drawdown(sim.equity[pick])[idx]],
        "spy_drawdown": [_num(v) for v in drawdown(spy_eq)[idx]],
        "points": len(idx),
        "days": n_days,
    }
    sweep = [
        {
            "parameters": sets[i],
            "sharpe": _num(full["sharpe"][i]),
            "annual_return": _num(full["annual_return"][i]),
            "max_drawdown": _num(full["max_drawdown"][i]),
            "in_sample_sharpe": _num(ins["sharpe"][i]),
            "out_of_sample_sharpe": _num(oos["sharpe"][i]),
        }
        for i in range(n_sets)
    ]
    results = {
        "version": RESULTS_VERSION,
        "system": spec.system,
        "selected": {"index": pick, "parameters": sets[pick]},
        "parameter_sets": n_sets,
        "period": {
            "start": stocks.dates[0].strftime("%Y-%m-%d"),
            "end": stocks.dates[-1].strftime("%Y-%m-%d"),
            "split": stocks.dates[first_oos].strftime("%Y-%m-%d"),
            "split_was_given": spec.split is not None,
            "days": n_days,
            "in_sample_days": first_oos,
            "out_of_sample_days": n_days - first_oos,
        },
        "symbols": list(stocks.symbols),
        "costs": {
            "commission_bps": spec.commission_bps,
            "slippage_bps": spec.slippage_bps,
            "short_borrow_bps_per_year": SHORT_BORROW_BPS,
            "execution": spec.execution,
        },
        "metrics": metrics,
        "validation": validation_out,
        "sweep": sweep,
        "seed": spec.seed,
        "monthly_returns": {
            "strategy": monthly_returns(sim.equity[pick], stocks.dates),
            "spy": monthly_returns(spy_eq, stocks.dates),
        },
        "model": _jsonable(extra) if extra else None,
    }
    report(100, "done")
    return BacktestOutcome(results=results, curve=curve, data_hash=bars_hash(bars))
