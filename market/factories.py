"""factory_boy factories for market data (tests and fixtures only)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory

from market import calendar
from market.models import PriceBar, PriceSource

FIRST_FACTORY_SESSION = date(2024, 1, 2)


class PriceBarFactory(factory.django.DjangoModelFactory):
    """A consistent bar (low <= open, close <= high) on consecutive NYSE sessions from 2024-01-02."""

    class Meta:
        model = PriceBar
        django_get_or_create = ("symbol", "date")

    symbol = "AAPL"
    date = factory.Sequence(lambda n: calendar.add_trading_days(FIRST_FACTORY_SESSION, n))
    close = factory.Sequence(lambda n: Decimal("100.0000") + Decimal(n % 50) / 4)
    open = factory.LazyAttribute(lambda bar: bar.close - Decimal("0.5000"))
    high = factory.LazyAttribute(lambda bar: bar.close + Decimal("1.2500"))
    low = factory.LazyAttribute(lambda bar: bar.open - Decimal("0.7500"))
    adj_close = factory.LazyAttribute(lambda bar: bar.close)
    volume = factory.Sequence(lambda n: 1_000_000 + 1_000 * n)
    source = PriceSource.CSV
