"""Reads of market data. The latest bar per symbol is hot (every page shows it), so it is cached
and the cache is invalidated by the service that writes bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max

from market.models import PriceBar
from market.symbols import ALL_SYMBOLS

LATEST_PRICES_CACHE_KEY = "market:latest-prices:v1"


@dataclass(frozen=True)
class LatestPrice:
    symbol: str
    date: date
    close: Decimal
    previous_close: Decimal | None
    source: str

    @property
    def change_pct(self) -> Decimal | None:
        if not self.previous_close:
            return None
        return ((self.close / self.previous_close) - 1) * 100


def latest_prices() -> list[LatestPrice]:
    """The most recent bar of each symbol (with the close before it), from the cache when warm."""
    cached = cache.get(LATEST_PRICES_CACHE_KEY)
    if cached is not None:
        return cached
    latest_dates = dict(PriceBar.objects.values("symbol").annotate(d=Max("date")).values_list("symbol", "d"))
    result: list[LatestPrice] = []
    for symbol in ALL_SYMBOLS:
        if symbol not in latest_dates:
            continue
        last_two = list(PriceBar.objects.filter(symbol=symbol, date__lte=latest_dates[symbol]).order_by("-date")[:2])
        result.append(
            LatestPrice(
                symbol=symbol,
                date=last_two[0].date,
                close=last_two[0].close,
                previous_close=last_two[1].close if len(last_two) > 1 else None,
                source=last_two[0].source,
            )
        )
    cache.set(LATEST_PRICES_CACHE_KEY, result, timeout=settings.LATEST_PRICE_CACHE_SECONDS)
    return result


def invalidate_latest_prices() -> None:
    cache.delete(LATEST_PRICES_CACHE_KEY)
