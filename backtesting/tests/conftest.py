"""Fixtures of the backtesting tests: a synthetic market in the database and investors."""

from __future__ import annotations

from datetime import date

import pytest

from accounts.factories import UserFactory
from backtesting.factories import demo_price_bars

MARKET_START, MARKET_END = date(2019, 1, 2), date(2021, 12, 31)


@pytest.fixture
def market(db):
    """Three years of the seeded demo market (five stocks and SPY) stored as PriceBar rows."""
    return demo_price_bars(start=MARKET_START, end=MARKET_END)


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")
