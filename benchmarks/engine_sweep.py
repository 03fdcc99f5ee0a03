"""Timing of the engine: one system over five symbols, and a 100-parameter sweep, with full metrics.

Run ``python -m benchmarks.engine_sweep [--prices DIR]``. Without ``--prices`` it uses a seeded
synthetic market of the same size (5 symbols x 18 years), so it never needs the shared data.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .core import simulate
from .data import Bars, load_bars_csv
from .metrics import compute_metrics
from .strategies import ma_crossover, param_grid

SYMBOLS = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")


def synthetic_bars(n_days: int = 18 * 252, n_symbols: int = 5, seed: int = 0) -> Bars:
    """Seeded geometric random walks with plausible daily volatility (for timing only)."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0004, 0.02, (n_days, n_symbols)), axis=0))
    dates = pd.bdate_range("2006-01-02", periods=n_days)
    return Bars.from_close(pd.DataFrame(close, index=dates, columns=[f"S{i}" for i in range(n_symbols)]))


def _best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def benchmark_sweep(bars: Bars | None = None, *, n_params: int = 100, repeat: int = 3) -> dict[str, float]:
    """Seconds (best of ``repeat``) for one SMA(10/30) crossover backtest and for an ``n_params`` sweep
    of (fast, slow) pairs, each including signal generation, simulation with costs and all metrics."""
    bars = bars or synthetic_bars()
    side = int(np.ceil(np.sqrt(n_params)))
    grid = param_grid(fast=np.arange(5, 5 + 2 * side, 2), slow=np.arange(40, 40 + 10 * side, 10))
    fast, slow = grid["fast"][:n_params], grid["slow"][:n_params]

    def run(f: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
        result = simulate(bars, ma_crossover(bars.close, f, s), commission_bps=1.0, slippage_bps=2.0)
        return compute_metrics(result.equity, turnover=result.turnover, exposure=result.gross_exposure)

    single = _best_of(lambda: run(np.array([10]), np.array([30])), repeat)
    sweep = _best_of(lambda: run(fast, slow), repeat)
    return {
        "n_days": float(bars.n_days),
        "n_symbols": float(len(bars.symbols)),
        "n_params": float(fast.size),
        "single_seconds": single,
        "sweep_seconds": sweep,
        "sweep_seconds_per_backtest": sweep / fast.size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prices", help="directory with <SYMBOL>.csv files (default: synthetic data)")
    parser.add_argument("--params", type=int, default=100)
    args = parser.parse_args()
    bars = load_bars_csv(args.prices, SYMBOLS) if args.prices else None
    print(json.dumps(benchmark_sweep(bars, n_params=args.params), indent=2))


if __name__ == "__main__":
    main()
