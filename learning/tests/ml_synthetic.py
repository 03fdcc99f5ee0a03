"""Synthetic data for the numerical-core tests (no files, no network, seeded): daily bars, a planted signal, tiny models."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from learning.ml.data import Panel

SYMBOLS: tuple[str, ...] = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")


def synthetic_bars(
    n_days: int,
    *,
    seed: int,
    start: str = "2015-01-02",
    drift: float = 0.0003,
    vol: float = 0.02,
    beta: float = 1.0,
    market: np.ndarray | None = None,
) -> pd.DataFrame:
    """A geometric random walk with consistent OHLC and volumes, on business days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days, name="date")
    idio = rng.normal(drift, vol, n_days)
    rets = idio + (beta * market[:n_days] if market is not None else 0.0)
    close = 50.0 * np.exp(np.cumsum(rets))
    open_ = close * np.exp(rng.normal(0, vol / 3, n_days))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, vol / 2, n_days)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, vol / 2, n_days)))
    volume = np.round(rng.lognormal(15, 0.4, n_days))
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "adj_close": close, "volume": volume}, index=dates
    )


def synthetic_panel(n_days: int = 600, *, seed: int = 7, late_symbol_offset: int | None = None) -> Panel:
    """Five stocks plus SPY; META starts ``late_symbol_offset`` days later (like its 2012 IPO; default n/4)."""
    offset = n_days // 4 if late_symbol_offset is None else late_symbol_offset
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0003, 0.01, n_days)
    panel: Panel = {"SPY": synthetic_bars(n_days, seed=seed, vol=0.002, market=market)}
    for i, sym in enumerate(SYMBOLS):
        bars = synthetic_bars(n_days, seed=seed + 1 + i, beta=0.8 + 0.2 * i, market=market)
        if sym == "META":
            bars = bars.iloc[offset:]
        panel[sym] = bars
    return panel


#: Model parameters small enough for a unit test (a fit takes well under a second).
SMALL: dict[str, dict[str, Any]] = {
    "rf": {"n_estimators": 25, "min_samples_leaf": 5, "max_depth": 4, "n_jobs": 1},
    "xgb": {"n_estimators": 30, "min_child_weight": 1.0, "learning_rate": 0.3, "n_jobs": 1},
    "lstm": {
        "seq_len": 5,
        "hidden_size": 8,
        "max_epochs": 6,
        "patience": 3,
        "batch_size": 64,
        "learning_rate": 0.01,
        "val_gap": 2,
        "n_threads": 1,
    },
}
#: The ensemble's base models at those sizes, the LSTM trained for fewer epochs still.
TINY_BASE: dict[str, dict[str, Any]] = {kind: dict(params) for kind, params in SMALL.items()}
TINY_BASE["lstm"] = {**TINY_BASE["lstm"], "max_epochs": 3}


def planted(n_days: int = 240, n_symbols: int = 4, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Features indexed by (date, symbol) and a label driven by the sign of the first feature."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    symbols = [f"S{i}" for i in range(n_symbols)]
    index = pd.MultiIndex.from_product([dates, symbols], names=["date", "symbol"])
    X = pd.DataFrame(rng.normal(size=(len(index), 4)), index=index, columns=["signal", "noise_a", "noise_b", "noise_c"])
    y = pd.Series((X["signal"] + 0.3 * rng.normal(size=len(X)) > 0).astype(int), index=index)
    return X, y
