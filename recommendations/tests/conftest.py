"""Fixtures of the recommendations tests: a small synthetic market and funded investors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from market import calendar
from market.models import PriceBar, PriceSource
from market.symbols import ALL_SYMBOLS

#: Daily log drifts that make a symbol's trend clear at the default noise (two standard deviations of the
#: noise away from its 50-day average; 90 sessions: about +/-70 %).
UP, DOWN = 0.006, -0.006


def make_market(
    end: date,
    *,
    sessions: int = 90,
    symbols: tuple[str, ...] = ALL_SYMBOLS,
    seed: int = 7,
    drift: dict[str, float] | None = None,
    sigma: float = 0.015,
) -> dict[str, Decimal]:
    """Bars for ``symbols`` on the ``sessions`` sessions up to ``end`` (a seeded random walk); returns the last closes.

    ``drift``: daily log drift per symbol (default 0.0005); the noise is the same whatever the drifts, so changing
    one symbol's drift leaves the others' bars as they were. ``sigma``: daily volatility of every symbol.
    The risk-first policy needs 50 sessions for its trend filter, 200 for all of it, and uses the naive
    volatility below 500 (keep tests under that: GARCH fits are slow).
    """
    days = calendar.sessions(calendar.add_trading_days(end, -(sessions - 1)), end)
    rng = np.random.default_rng(seed)
    last: dict[str, Decimal] = {}
    rows = []
    for k, symbol in enumerate(symbols):
        mu = (drift or {}).get(symbol, 0.0005)
        closes = (100 + 20 * k) * np.exp(np.cumsum(mu + sigma * rng.standard_normal(len(days))))
        for day, close in zip(days, closes, strict=True):
            c = Decimal(f"{close:.4f}")
            rows.append(
                PriceBar(
                    symbol=symbol, date=day, open=c, high=c, low=c, close=c, adj_close=c, volume=1_000_000, source=PriceSource.CSV
                )
            )
        last[symbol] = Decimal(f"{closes[-1]:.4f}")
    PriceBar.objects.bulk_create(rows)
    return last


@pytest.fixture
def signal_day() -> date:
    """A fixed past session for generation tests (answering is tested on the latest completed session)."""
    return date(2024, 6, 3)


@pytest.fixture
def today() -> date:
    return calendar.latest_completed_session()
