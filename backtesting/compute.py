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

from backtesting.engine.core import Execution, SimResult, carry_in, simulate
from backtesting.engine.data import Bars
from backtesting.engine.metrics import compute_metrics, drawdown
from backtesting.engine.trades import round_trips, trade_metrics
from backtesting.model_systems import MODEL_SYSTEMS, model_history_error
from backtesting.spec import (
    MIN_SESSIONS,
    MIN_SPLIT_SESSIONS,
    MIN_SPLIT_SIDE,
    BacktestOutcome,
    BacktestSpec,
    default_split,
)
from backtesting.system_types import DataError, Grid
from backtesting.systems import SYSTEMS, SystemRun, parameter_grid, parameter_sets

__all__ = ["BacktestOutcome", "BacktestSpec", "DataError", "Period", "backtest_compute", "locate_period", "simulate_system"]

STOCKS: tuple[str, ...] = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")
BENCHMARK = "SPY"
#: Annual fee on short notional (bps): shorting is never free, even in a backtest.
SHORT_BORROW_BPS = 50.0
#: Charts get at most this many points per series; metrics always use every day.
MAX_CURVE_POINTS = 1500
#: The bootstrap and the permutation test need this many daily returns to mean anything.
MIN_VALIDATION_RETURNS = 20
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_BLOCK = 20
PERMUTATIONS = 1000
#: Results format; bump when the shape of ``results`` changes.
RESULTS_VERSION = 3

Progress = Callable[[int, str], None]


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


def monthly_returns(equity: np.ndarray, dates: pd.DatetimeIndex, *, base: float | None = None) -> list[dict[str, Any]]:
    """Calendar-month returns of an equity curve: ``[{"year", "months": [12 values or None]}]``, oldest first.

    A month's return runs from the previous month's last close to its own last close; the first month's
    from ``base`` (the equity at the close before the first date) or, without it, from the first close.
    Months outside the period are None.
    """
    series = pd.Series(np.asarray(equity, dtype=float), index=dates)
    month_end = series.groupby([dates.year, dates.month]).last()
    previous = month_end.shift(1)
    previous.iloc[0] = series.iloc[0] if base is None else base
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


def _split_row(dates: pd.DatetimeIndex, spec_split: date | None, *, sweep: bool) -> int | None:
    """Period index of the first out-of-sample day: the requested split, else the default one; None when the
    period is too short to split (a single parameter set is then reported over the whole period only)."""
    n = len(dates)
    if spec_split is None:
        first = default_split(n)
        if first is None and sweep:
            raise DataError(
                f"A sweep chooses its parameter set on the in-sample days, so the period needs at least "
                f"{MIN_SPLIT_SESSIONS} sessions ({MIN_SPLIT_SIDE} on each side of the split); it has {n}. "
                "Give one value per parameter or a longer period."
            )
        return first
    first = int(np.searchsorted(dates, pd.Timestamp(spec_split)))
    if not MIN_SPLIT_SIDE <= first <= n - MIN_SPLIT_SIDE:
        raise DataError(
            f"The split {spec_split} leaves {first} in-sample and {n - first} out-of-sample days; "
            f"each side needs at least {MIN_SPLIT_SIDE}."
        )
    return first


@dataclass(frozen=True)
class Period:
    """The chosen period inside the history it can use (the five stocks and SPY up to the period's end).

    Rows ``start:`` of the history are simulated; ``first`` is the period's first session. ``start`` is
    ``first - 1`` when a session precedes the period (the portfolio starts in cash at its close and its
    decision fills on the period's first bar), else ``first`` (= 0). Every earlier row is warm-up only.
    """

    stocks: Bars
    spy: Bars
    start: int
    first: int

    @property
    def days(self) -> int:
        """Sessions in the period."""
        return self.stocks.n_days - self.first

    @property
    def base(self) -> int:
        """1 when the window opens on the session before the period, else 0."""
        return self.first - self.start


def locate_period(bars: Bars, *, start: date | None, end: date | None) -> Period:
    """The history up to ``end`` and where the period starting on ``start`` lies in it.

    Raises :class:`DataError` when the period has no session with prices, or too few sessions to give one
    daily return. The message says what is needed and what there is.
    """
    history = bars.between(None, end)
    stocks, spy = split_universe(history)
    first = int(np.searchsorted(stocks.dates, pd.Timestamp(start))) if start is not None else 0
    days = stocks.n_days - first
    if days < 1:
        known = f" (the prices run from {stocks.dates[0]:%Y-%m-%d} to {stocks.dates[-1]:%Y-%m-%d})" if stocks.n_days else ""
        raise DataError(
            f"There is no session with prices of the stocks and SPY between {start or 'the first prices'} and "
            f"{end or 'the latest prices'}{known}; a backtest needs at least one."
        )
    if first == 0 and days < MIN_SESSIONS:
        raise DataError(
            f"The period has {days} session and no session before it; with nothing earlier a backtest needs "
            f"{MIN_SESSIONS} (one to decide, one to trade). Start later or store older prices."
        )
    return Period(stocks=stocks, spy=spy, start=first - 1 if first else 0, first=first)


def system_warmup(system_name: str, grid: Grid) -> int | None:
    """Bars of history the system's indicators need (None: it reads no history before the period)."""
    system = SYSTEMS[system_name]
    return None if system.warmup is None else int(system.warmup(grid))


def simulate_system(
    *,
    spec: BacktestSpec,
    period: Period,
    grid: Grid,
    costs: dict[str, Any],
    progress: Progress | None = None,
) -> tuple[SimResult, dict[str, Any]]:
    """The strategy's simulation of the period's window (rows ``period.start:``) for every parameter set.

    Indicators and models see the history before the window; positions on day t depend on no bar after t.
    Raises :class:`DataError` when a model system has too little history to fit its first model.
    """
    report = progress or (lambda percent, stage: None)
    system = SYSTEMS[spec.system]
    window = period.stocks.rows(period.start)
    if system.simulate is not None:
        if spec.system in MODEL_SYSTEMS:
            problem = model_history_error(
                min_train_days=int(np.asarray(grid["min_train_days"]).ravel()[0]),
                before=period.first,
                inside=period.days,
                start=period.stocks.dates[period.first].strftime("%Y-%m-%d") if period.first else None,
            )
            if problem:
                raise DataError(problem)
        run = SystemRun(
            stocks=period.stocks,
            spy=period.spy,
            execution=costs["execution"],
            commission_bps=spec.commission_bps,
            slippage_bps=spec.slippage_bps,
            borrow_bps=SHORT_BORROW_BPS,
            seed=spec.seed,
            progress=report,
            start=period.start,
        )
        return system.simulate(run, grid)
    if system.warmup is None:
        weights = system.weights(window.close, window.dates, grid)
    else:
        weights = carry_in(system.weights(period.stocks.close, period.stocks.dates, grid), period.start)
    return simulate(window, weights, borrow_bps=SHORT_BORROW_BPS, **costs), {}


def _history(spec: BacktestSpec, period: Period, grid: Grid, extra: dict[str, Any]) -> dict[str, Any]:
    """What the run could see before its period: sessions, warm-up of the indicators, the first model."""
    dates = period.stocks.dates
    uses_history = SYSTEMS[spec.system].warmup is not None or spec.system in MODEL_SYSTEMS
    first_model = ((extra.get("walk_forward") or {}).get("first_model")) if extra else None
    return {
        "sessions_before": period.first,
        "first_session": dates[0].strftime("%Y-%m-%d") if period.first else None,
        "base_date": dates[period.start].strftime("%Y-%m-%d") if period.base else None,
        "warmup_bars": period.first if uses_history else 0,
        "warmup_needed": system_warmup(spec.system, grid),
        "first_model": first_model,
    }


def backtest_compute(*, spec: BacktestSpec, bars: Bars, progress: Progress | None = None) -> BacktestOutcome:
    """Run ``spec`` on ``bars`` (the five stocks and SPY, any extra symbols ignored).

    Bars before ``spec.start`` warm the indicators up and train the models; the metrics cover the period
    only: from the close of the session before it (when there is one; else from its first close) to its
    last close. Costs: commission + slippage in bps of every trade's notional, on the strategy and on both
    benchmarks; shorts pay :data:`SHORT_BORROW_BPS` a year. Raises :class:`DataError` when the data cannot
    support it.
    """
    from backtesting.engine import strategies, validation

    report = progress or (lambda percent, stage: None)
    report(5, "preparing data")
    period = locate_period(bars, start=spec.start, end=spec.end)
    stocks, spy = period.stocks.rows(period.start), period.spy.rows(period.start)
    n_rows, base, n_days = stocks.n_days, period.base, period.days
    grid = parameter_grid(spec.parameters, spec.system)
    sets = parameter_sets(grid)
    n_sets = len(sets)
    split = _split_row(period.stocks.dates[period.first :], spec.split, sweep=n_sets > 1)
    first_oos = None if split is None else base + split  # window row of the first out-of-sample day
    execution: Execution = "next_close" if spec.execution == "next_close" else "next_open"
    costs: dict[str, Any] = {"execution": execution, "commission_bps": spec.commission_bps, "slippage_bps": spec.slippage_bps}

    report(15, "simulating")
    sim, extra = simulate_system(
        spec=spec,
        period=period,
        grid=grid,
        costs=costs,
        progress=lambda percent, stage: report(15 + int(0.18 * percent), stage),
    )
    spy_sim = simulate(spy, strategies.buy_and_hold(spy.close, spy.dates, rebalance="none"), **costs)
    ew_sim = simulate(stocks, strategies.buy_and_hold(stocks.close, stocks.dates, rebalance="monthly"), **costs)

    report(35, "computing metrics")
    spy_eq, ew_eq = spy_sim.equity[0], ew_sim.equity[0]
    full = compute_metrics(sim.equity, benchmark_equity=spy_eq, turnover=sim.turnover, exposure=sim.gross_exposure)
    if first_oos is not None:
        ins = compute_metrics(sim.equity[:, :first_oos], benchmark_equity=spy_eq[:first_oos])
        oos = compute_metrics(sim.equity[:, first_oos - 1 :], benchmark_equity=spy_eq[first_oos - 1 :])
        # Chosen on in-sample Sharpe only, so its out-of-sample figures are not flattered by the choice.
        is_sharpe = np.where(np.isfinite(ins["sharpe"]), ins["sharpe"], -np.inf)
        pick = int(np.argmax(is_sharpe))
    else:
        pick = 0  # one parameter set (a sweep needs a split)

    rate = (spec.commission_bps + spec.slippage_bps) / 1e4

    def side(equity: np.ndarray, turnover: np.ndarray, exposure: np.ndarray, result: Any, p: int) -> dict[str, Any]:
        trips = round_trips(result.shares[p], result.flows(p), costs=result.symbol_costs(p, rate))
        full_metrics = _metrics_dict(compute_metrics(equity, benchmark_equity=spy_eq, turnover=turnover, exposure=exposure))
        full_metrics.update({k: _num(v) for k, v in trade_metrics(trips["pnl"], trips["return"]).items()})
        if first_oos is None:
            return {"full": full_metrics, "in_sample": None, "out_of_sample": None}
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

    returns = sim.returns[:, 1:]  # the window's first row is the starting cash: no return
    validation_out: dict[str, Any] = {
        "bootstrap": None,
        "permutation": None,
        "deflated_sharpe": None,
        "pbo": None,
        "walk_forward": None,
        "min_returns": MIN_VALIDATION_RETURNS,
    }
    if returns.shape[1] >= MIN_VALIDATION_RETURNS:
        report(50, "bootstrap confidence intervals")
        boot = validation.block_bootstrap(returns[pick], n_boot=BOOTSTRAP_SAMPLES, block=BOOTSTRAP_BLOCK, seed=spec.seed)
        boot_oos = (
            validation.block_bootstrap(
                returns[pick, first_oos - 1 :], n_boot=BOOTSTRAP_SAMPLES, block=BOOTSTRAP_BLOCK, seed=spec.seed
            )
            if first_oos is not None
            else None
        )
        report(65, "permutation test")
        held = sim.weights[pick, :-1]  # weights held over the next day
        asset_returns = sim.close[1:] / sim.close[:-1] - 1.0
        perm = validation.permutation_test(held, asset_returns, n_perm=PERMUTATIONS, seed=spec.seed)
        exposed = bool(np.abs(held).sum() > 0)
        validation_out["bootstrap"] = {
            "samples": BOOTSTRAP_SAMPLES,
            "block_days": BOOTSTRAP_BLOCK,
            "full": {k: [_num(x) for x in v] for k, v in boot.items()},
            "out_of_sample": {k: [_num(x) for x in v] for k, v in boot_oos.items()} if boot_oos is not None else None,
        }
        validation_out["permutation"] = {
            "permutations": PERMUTATIONS,
            "sharpe": _num(perm["sharpe"]),
            "p_value": _num(perm["p_value"]) if exposed else None,
            "null_mean_sharpe": _num(perm["null_mean"]),
        }

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
    idx = _downsample_index(n_rows)
    curve = {
        "dates": [d.strftime("%Y-%m-%d") for d in stocks.dates[idx]],
        "strategy": [_num(v) for v in sim.equity[pick, idx]],
        "spy": [_num(v) for v in spy_eq[idx]],
        "equal_weight": [_num(v) for v in ew_eq[idx]],
        "strategy_drawdown": [_num(v) for v in drawdown(sim.equity[pick])[idx]],
        "spy_drawdown": [_num(v) for v in drawdown(spy_eq)[idx]],
        "points": len(idx),
        "days": n_days,
        "base_date": stocks.dates[0].strftime("%Y-%m-%d") if base else None,
    }
    sweep = [
        {
            "parameters": sets[i],
            "sharpe": _num(full["sharpe"][i]),
            "annual_return": _num(full["annual_return"][i]),
            "max_drawdown": _num(full["max_drawdown"][i]),
            "in_sample_sharpe": _num(ins["sharpe"][i]) if first_oos is not None else None,
            "out_of_sample_sharpe": _num(oos["sharpe"][i]) if first_oos is not None else None,
        }
        for i in range(n_sets)
    ]
    period_dates = period.stocks.dates[period.first :]
    history = _history(spec, period, grid, extra)
    base_value = (lambda equity: float(equity[0])) if base else (lambda equity: None)
    results = {
        "version": RESULTS_VERSION,
        "system": spec.system,
        "selected": {"index": pick, "parameters": sets[pick]},
        "parameter_sets": n_sets,
        "period": {
            "start": period_dates[0].strftime("%Y-%m-%d"),
            "end": period_dates[-1].strftime("%Y-%m-%d"),
            "split": period_dates[split].strftime("%Y-%m-%d") if split is not None else None,
            "split_was_given": spec.split is not None,
            "days": n_days,
            "in_sample_days": split,
            "out_of_sample_days": n_days - split if split is not None else None,
        },
        "history": history,
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
            "strategy": monthly_returns(sim.equity[pick, base:], period_dates, base=base_value(sim.equity[pick])),
            "spy": monthly_returns(spy_eq[base:], period_dates, base=base_value(spy_eq)),
        },
        "model": _jsonable(extra) if extra else None,
    }
    report(100, "done")
    used_from = 0 if history["warmup_bars"] else period.start
    seen = bars.between(period.stocks.dates[used_from], spec.end)
    return BacktestOutcome(results=results, curve=curve, data_hash=bars_hash(seen))
