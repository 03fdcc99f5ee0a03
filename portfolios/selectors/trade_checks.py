"""Checks of a back-dated trade against the market data: its date and its price.

Used by the trade form, the trade API and the CSV import (not by the ledger service itself, which
also records onboarding holdings bought long before the first stored bar).

- **Refused**: a date before the symbol's first stored bar (nothing can value the position then).
  A symbol with no bars at all is not checked.
- **Warned** (the trade is recorded once the person confirms; the API and the import report it):
  a date that is not an NYSE session, and a price more than :data:`PRICE_TOLERANCE` outside that
  day's low-high range. Not refused because stored bars are split- and dividend-adjusted: a real
  fill before a split (NVDA 10:1 in 2024, AMZN and GOOGL 20:1 in 2022) is far from the adjusted
  range and still right, and the demo market's prices are synthetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Min

from market.models import PriceBar

#: How far outside the day's low-high range a price may be before it is questioned (10 %).
PRICE_TOLERANCE = Decimal("0.10")


@dataclass(frozen=True)
class DayRange:
    low: Decimal
    high: Decimal


@dataclass
class MarketFacts:
    """The bars a set of checks needs, read once: first bar per symbol and the (symbol, date) ranges."""

    first_bar: dict[str, date] = field(default_factory=dict)
    ranges: dict[tuple[str, date], DayRange] = field(default_factory=dict)


def market_facts(pairs: Iterable[tuple[str, date]]) -> MarketFacts:
    """Two queries whatever the number of pairs: the first bar of each symbol, and the bars of the dates asked."""
    wanted = set(pairs)
    symbols = {s for s, _ in wanted}
    if not symbols:
        return MarketFacts()
    first = dict(
        PriceBar.objects.filter(symbol__in=symbols).values("symbol").annotate(first=Min("date")).values_list("symbol", "first")
    )
    days = {d for _, d in wanted}
    ranges = {
        (s, d): DayRange(low=low, high=high)
        for s, d, low, high in PriceBar.objects.filter(symbol__in=symbols, date__in=days).values_list(
            "symbol", "date", "low", "high"
        )
        if (s, d) in wanted
    }
    return MarketFacts(first_bar=first, ranges=ranges)


def trade_date_problem(facts: MarketFacts, *, symbol: str, day: date) -> str | None:
    """Why ``day`` cannot be a trade date of ``symbol`` (the future is the ledger's own check), or ``None``."""
    first = facts.first_bar.get(symbol)
    if first is not None and day < first:
        return f"{symbol} has prices from {first.isoformat()}; a trade cannot be dated before that."
    return None


def trade_warnings(facts: MarketFacts, *, symbol: str, day: date, price: Decimal, check_session: bool = True) -> list[str]:
    """What looks wrong with a trade that the rules still allow: a day without a session, a price off the range.

    ``check_session=False`` for a trade recorded "now" (a weekend entry is not a mistake then).
    """
    warnings: list[str] = []
    day_range = facts.ranges.get((symbol, day))
    if check_session and day_range is None and not _is_session(day):
        warnings.append(f"{day.isoformat()} is not an NYSE trading day.")
    if day_range is not None:
        low = day_range.low * (1 - PRICE_TOLERANCE)
        high = day_range.high * (1 + PRICE_TOLERANCE)
        if not low <= price <= high:
            warnings.append(
                f"{price} USD is far outside {symbol}'s range on {day.isoformat()} "
                f"({day_range.low.quantize(Decimal('0.01'))}-{day_range.high.quantize(Decimal('0.01'))} USD, "
                "adjusted for later splits and dividends). Check the price."
            )
    return warnings


def close_on(symbol: str, day: date) -> Decimal | None:
    """The symbol's close on ``day``, rounded to cents (a trade price), if that bar is stored."""
    close = PriceBar.objects.filter(symbol=symbol, date=day).values_list("close", flat=True).first()
    return None if close is None else close.quantize(Decimal("0.01"))


def _is_session(day: date) -> bool:
    from market.calendar import CalendarRangeError, is_trading_day  # builds the calendar on first use

    try:
        return is_trading_day(day)
    except CalendarRangeError:
        return True  # outside the calendar's span: nothing to say
