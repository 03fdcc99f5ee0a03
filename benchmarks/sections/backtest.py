"""Benchmark section ``backtest``: the engine and the full lab pipeline on the five stocks' real history.

Figures (best of a few repeats, one process): the engine alone (SMA 10/30 crossover with costs and every
metric) for one backtest and for a 100-parameter sweep, and the lab's whole computation (system, both
benchmarks, in/out-of-sample metrics, bootstrap, permutation test, and for the sweep deflated Sharpe and
PBO) as a run performs it. Reads ``<prices-dir>/<SYMBOL>.csv`` (the ``load_prices`` section's option);
skipped without it. The issue's reference: vectorbt (warm) about 10 ms per backtest and 0.9 s per 100-pair
sweep, backtesting.py about 66 ms per backtest, on this kind of machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from benchmarks import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.sections.load_prices import prices_dir

REPEAT = 3
#: The model systems run once over this stretch with models refitted twice a year (bounded wall-clock time).
MODEL_START = "2016-01-04"
MODEL_PARAMS = {"model": "rf", "retrain_every": 126, "min_train_days": 504}


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _best(fn: Callable[[], Any], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@register("backtest", description="backtest engine and lab pipeline: one system and a 100-parameter sweep on real prices")
def backtest(context: BenchmarkContext) -> SectionResult:
    from backtesting.compute import BENCHMARK, STOCKS, BacktestSpec, backtest_compute
    from backtesting.engine.data import load_bars_csv
    from backtesting.systems import clean_parameters
    from benchmarks.engine_sweep import benchmark_sweep

    directory = prices_dir(context)
    if not all((directory / f"{s}.csv").is_file() for s in (*STOCKS, BENCHMARK)):
        raise SectionSkipped(f"no <SYMBOL>.csv for the five stocks and SPY in {directory}")
    bars = load_bars_csv(directory, [*STOCKS, BENCHMARK])
    stocks = bars.select(STOCKS)
    result = SectionResult()
    result.add("days", int(stocks.n_days), "days")

    context.log("backtest: engine only (SMA crossover, costs, full metrics)")
    engine = benchmark_sweep(stocks, n_params=100, repeat=REPEAT)
    result.add("engine_single_ms", engine["single_seconds"] * 1e3, "ms")
    result.add("engine_sweep_100_s", engine["sweep_seconds"], "s")
    result.add("engine_sweep_ms_per_backtest", engine["sweep_seconds_per_backtest"] * 1e3, "ms")

    context.log("backtest: the lab pipeline (metrics, benchmarks, bootstrap, permutation, DSR, PBO)")
    single = BacktestSpec(system="trend_ma", parameters=clean_parameters("trend_ma", {"fast": 10, "slow": 30}))
    sweep = BacktestSpec(
        system="trend_ma",
        parameters=clean_parameters("trend_ma", {"fast": list(range(5, 25, 2)), "slow": list(range(40, 140, 10))}),
    )
    result.add("lab_single_run_s", _best(lambda: backtest_compute(spec=single, bars=bars)), "s")
    result.add("lab_sweep_100_run_s", _best(lambda: backtest_compute(spec=sweep, bars=bars)), "s")
    for system in ("ml", "engine"):
        context.log(f"backtest: {system} from {MODEL_START} (walk-forward refits inside the backtest)")
        extra = {"profile": "Moderate"} if system == "engine" else {}
        spec = BacktestSpec(
            system=system, parameters=clean_parameters(system, {**MODEL_PARAMS, **extra}), start=_date(MODEL_START)
        )
        started = time.perf_counter()
        outcome = backtest_compute(spec=spec, bars=bars)
        seconds = time.perf_counter() - started
        fitted = outcome.results["model"]["walk_forward"]["models_fitted"]
        result.add(f"{system}_run_s", seconds, "s")
        result.add(f"{system}_models_fitted", fitted, "models")
        result.add(f"{system}_days", outcome.results["period"]["days"], "days")
        result.add(f"{system}_sharpe", outcome.results["metrics"]["strategy"]["full"]["sharpe"] or float("nan"), "")
    result.note(
        f"ml/engine: rf refitted every {MODEL_PARAMS['retrain_every']} sessions after {MODEL_PARAMS['min_train_days']}, "
        f"from {MODEL_START}, one run each including the lab's validation."
    )
    result.note(
        f"{len(STOCKS)} stocks x {stocks.n_days} days from {directory}; best of {REPEAT}. The lab figures include "
        "2000 bootstrap resamples and 1000 permutations, which dominate a single run."
    )
    return result
