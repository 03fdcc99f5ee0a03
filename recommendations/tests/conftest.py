"""Fixtures of the recommendations tests: a small synthetic market and funded investors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from market import calendar
from market.models import PriceBar, PriceSource
from market.symbols import ALL_SYMBOLS


def make_market(end: date, *, sessions: int = 90, symbols: tuple[str, ...] = ALL_SYMBOLS, seed: int = 7) -> dict[str, Decimal]:
    """Bars for ``symbols`` on the ``sessions`` sessions up to ``end`` (a seeded random walk); returns the last closes."""
    days = calendar.sessions(calendar.add_trading_days(end, -(sessions - 1)), end)
    rng = np.random.default_rng(seed)
    last: dict[str, Decimal] = {}
    rows = []
    for k, symbol in enumerate(symbols):
        closes = (100 + 20 * k) * np.exp(np.cumsum(rng.normal(0.0005, 0.015, len(days))))
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
