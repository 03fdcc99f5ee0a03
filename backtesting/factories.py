"""Test data for the backtesting lab: stored runs and a synthetic market in the database."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import factory

from backtesting.models import BacktestRun, RunStatus
from market.models import PriceBar, PriceSource
from market.symbols import ALL_SYMBOLS

FOUR_PLACES = Decimal("0.0001")


class BacktestRunFactory(factory.django.DjangoModelFactory):
    """A queued buy-and-hold run (no results): for access and listing tests."""

    class Meta:
        model = BacktestRun

    owner = factory.SubFactory("accounts.factories.UserFactory")
    system = "buy_and_hold"
    parameters = factory.LazyFunction(lambda: {"rebalance": ["monthly"]})
    status = RunStatus.QUEUED


def owned_backtest_run_id(owner: Any) -> int:
    """The id of a run owned by ``owner`` (the project's URL-access harness, ``OWNED_OBJECT["run_id"]``)."""
    run: BacktestRun = BacktestRunFactory(owner=owner)  # type: ignore[assignment]  # factory_boy returns the instance
    return run.pk


def demo_price_bars(*, start: date = date(2019, 1, 2), end: date = date(2021, 12, 31), seed: int = 7) -> int:
    """Store the seeded synthetic market's bars of the five stocks and SPY for ``start``..``end``.

    One ``bulk_create``; returns the number of bars. The demo generator is fast and deterministic, so the
    same call always stores the same prices.
    """
    from market.providers.demo import DemoMarketProvider

    provider = DemoMarketProvider(seed=seed, today=end, history_years=max(1, end.year - start.year + 1))
    bars = []
    for symbol in ALL_SYMBOLS:
        frame = provider.fetch(symbol, start=start, end=end)
        for row in frame.itertuples(index=False):
            prices = {
                name: Decimal(repr(float(getattr(row, name)))).quantize(FOUR_PLACES, rounding=ROUND_HALF_EVEN)
                for name in ("open", "high", "low", "close", "adj_close")
            }
            bars.append(PriceBar(symbol=symbol, date=row.date, volume=int(row.volume), source=PriceSource.DEMO, **prices))
    PriceBar.objects.bulk_create(bars)
    return len(bars)
