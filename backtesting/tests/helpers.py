"""Synthetic markets for the engine tests (seeded, small, fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtesting.engine.data import Bars


def random_bars(n_days: int = 120, n_symbols: int = 3, seed: int = 0, late_listing: bool = True) -> Bars:
    """Random OHLC bars with consistent high/low; the last symbol lists on day 10 if ``late_listing``."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_days, n_symbols)), axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.01, (n_days, n_symbols)))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.03, (n_days, n_symbols)))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.03, (n_days, n_symbols)))
    if late_listing and n_symbols > 1:
        for a in (open_, high, low, close):
            a[:10, -1] = np.nan
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    return Bars(dates=dates, symbols=tuple(f"S{i}" for i in range(n_symbols)), open=open_, high=high, low=low, close=close)


def random_weights(bars: Bars, n_params: int = 3, seed: int = 1, hold_share: float = 0.6) -> np.ndarray:
    """Random long/short targets; a share of rows are NaN ("no order") and some entries NaN."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 0.5, (n_params, bars.n_days, len(bars.symbols)))
    w[rng.random((n_params, bars.n_days)) < hold_share] = np.nan
    w[..., 0][rng.random((n_params, bars.n_days)) < 0.1] = np.nan
    return w


UNIVERSE = ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY")


def universe_bars(n_days: int = 420, seed: int = 0, drift: float = 0.0003, momentum: float = 0.15) -> Bars:
    """The five stocks and SPY as the lab reads them: seeded random walks with a little momentum (so a model
    has something to find) and ``drift`` a day; consistent open, high and low."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(drift, 0.018, (n_days, len(UNIVERSE)))
    trend = np.zeros_like(noise)
    for t in range(1, n_days):
        trend[t] = momentum * (noise[t - 1] + trend[t - 1])
    close = 50.0 * np.exp(np.cumsum(noise + trend, axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.004, close.shape))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    dates = pd.bdate_range("2015-01-02", periods=n_days)
    return Bars(dates=dates, symbols=UNIVERSE, open=open_, high=high, low=low, close=close)


def with_prices_changed_after(bars: Bars, row: int, seed: int = 99) -> Bars:
    """The same bars with every price after ``row`` multiplied by a random factor per day and symbol."""
    rng = np.random.default_rng(seed)
    factor = np.ones_like(bars.close)
    factor[row + 1 :] = np.exp(rng.normal(0.0, 0.05, factor[row + 1 :].shape))
    wider = np.ones_like(factor)
    wider[row + 1 :] = 1.02  # wider ranges too, so stops would trigger differently
    return Bars(
        dates=bars.dates,
        symbols=bars.symbols,
        open=bars.open * factor,
        high=bars.high * factor * wider,
        low=bars.low * factor / wider,
        close=bars.close * factor,
    )
