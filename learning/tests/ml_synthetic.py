"""Synthetic daily bars for the numerical-core tests (no files, no network, seeded)."""

from __future__ import annotations

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
