"""Reads of a portfolio: latest closes, the summary of positions and cash, the trade history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Max, Q, QuerySet

from accounts.models import User
from market.models import PriceBar
from market.selectors import latest_prices
from market.symbols import TRADABLE
from portfolios.core.ledger import (
    SHORT_RESERVE,
    Direction,
    q2,
)
from portfolios.models import CashAccount, Position, Trade

MONEY_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PriceQuote:
    close: Decimal
    date: date


def latest_closes(symbols: Iterable[str] = TRADABLE) -> dict[str, PriceQuote]:
    """The latest daily close of each symbol that has one (two queries, whatever the history length).

    Not cached on purpose: valuation must see a bar the moment it is written.
    """
    symbols = list(symbols)
    latest = dict(PriceBar.objects.filter(symbol__in=symbols).values("symbol").annotate(d=Max("date")).values_list("symbol", "d"))
    if not latest:
        return {}
    condition = Q()
    for symbol, day in latest.items():
        condition |= Q(symbol=symbol, date=day)
    return {
        symbol: PriceQuote(close=close, date=day)
        for symbol, day, close in PriceBar.objects.filter(condition).values_list("symbol", "date", "close")
    }


@dataclass(frozen=True)
class PortfolioTotals:
    cash: Decimal
    reserved_for_shorts: Decimal  # cash set aside while shorts are open (see portfolios.core.ledger)
    available_cash: Decimal  # what buys, new shorts and withdrawals may spend
    net_deposits: Decimal
    long_market_value: Decimal
    short_market_value: Decimal  # negative: what the shorts owe
    equity: Decimal  # cash + long - |short|: the user's portfolio value
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    total_pnl: Decimal  # equity - net deposits (fees included)
    total_return_pct: Decimal | None


@dataclass(frozen=True)
class PortfolioSummary:
    user: User
    positions: list[Position]  # open positions, by symbol
    closed_positions: list[Position]  # zero shares, kept for their realized P&L
    totals: PortfolioTotals
    prices_as_of: date | None


def portfolio_summary(*, user: User) -> PortfolioSummary:
    """Positions, cash and totals of one user from the cached rows (two queries and a cache read, whatever the size)."""
    cash = CashAccount.objects.filter(user=user).values_list("balance", "net_deposits").first() or (MONEY_ZERO, MONEY_ZERO)
    balance, net_deposits = cash
    rows = list(Position.objects.filter(user=user).order_by("symbol"))
    open_rows = [p for p in rows if p.shares > 0]
    long_mv = sum((p.market_value for p in open_rows if p.position_type == Direction.LONG), MONEY_ZERO)
    short_mv = sum((p.market_value for p in open_rows if p.position_type == Direction.SHORT), MONEY_ZERO)
    equity = balance + long_mv + short_mv
    total_pnl = equity - net_deposits
    reserved = sum(
        (SHORT_RESERVE * q2(p.shares * p.avg_purchase_price) for p in open_rows if p.position_type == Direction.SHORT),
        MONEY_ZERO,
    )
    totals = PortfolioTotals(
        cash=balance,
        reserved_for_shorts=reserved,
        available_cash=balance - reserved,
        net_deposits=net_deposits,
        long_market_value=long_mv,
        short_market_value=short_mv,
        equity=equity,
        unrealized_pnl=sum((p.unrealized_pnl for p in open_rows), MONEY_ZERO),
        realized_pnl=sum((p.realized_pnl for p in rows), MONEY_ZERO),
        total_pnl=total_pnl,
        total_return_pct=q2(total_pnl / net_deposits * 100) if net_deposits > 0 else None,
    )
    # The newest close among the held symbols, from the cached latest bars (invalidated when bars are written):
    # a MAX over the bar table on every page and API read was the summary's costliest query.
    held = {p.symbol for p in open_rows}
    as_of = max((quote.date for quote in latest_prices() if quote.symbol in held), default=None)
    return PortfolioSummary(
        user=user,
        positions=open_rows,
        closed_positions=[p for p in rows if p.shares == 0],
        totals=totals,
        prices_as_of=as_of,
    )


def trades_for_user(
    *,
    user: User,
    symbol: str | None = None,
    side: str | None = None,
    source: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Trade]:
    """A user's ledger, newest first, filtered. Dates are inclusive, on the UTC execution date."""
    qs = Trade.objects.filter(user=user)
    if symbol:
        qs = qs.filter(symbol=symbol)
    if side:
        qs = qs.filter(side=side)
    if source:
        qs = qs.filter(source=source)
    if date_from:
        qs = qs.filter(executed_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(executed_at__date__lte=date_to)
    return qs.order_by("-executed_at", "-id")
