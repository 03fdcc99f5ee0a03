"""Analytics of a user, from ``portfolios.analytics``, with money back in ``Decimal``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd
from django.core.cache import cache

from accounts.models import User
from market.selectors import daily_closes, prices_version
from market.symbols import TRADABLE
from portfolios import analytics
from portfolios.ledger import (
    q2,
)
from portfolios.models import Trade
from portfolios.selectors.portfolio import MONEY_ZERO

RATIO_STEP = Decimal("0.000001")


def _ratio(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return Decimal(repr(value)).quantize(RATIO_STEP, rounding=ROUND_HALF_EVEN)


def _money(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return q2(Decimal(repr(value)))


@dataclass(frozen=True)
class SeriesPoint:
    date: date
    equity: Decimal
    net_deposits: Decimal
    pnl: Decimal
    twr_index: Decimal
    benchmark_index: Decimal | None


@dataclass(frozen=True)
class AllocationSlice:
    symbol: str  # a ticker, or "CASH"
    value: Decimal
    weight: Decimal | None  # of equity; negative for a short


@dataclass(frozen=True)
class AnalyticsReport:
    """``portfolios.analytics`` figures as the API shows them: money in ``Decimal`` cents, ratios to 1e-6."""

    start: date | None
    end: date | None
    observations: int
    equity: Decimal
    twr: Decimal | None
    mwr_period: Decimal | None
    mwr_annualized: Decimal | None
    volatility_daily: Decimal | None
    volatility_annualized: Decimal | None
    beta: Decimal | None
    correlation: Decimal | None
    var_95: Decimal | None
    cvar_95: Decimal | None
    var_95_amount: Decimal | None
    cvar_95_amount: Decimal | None
    max_drawdown: Decimal | None
    max_drawdown_peak: date | None
    max_drawdown_trough: date | None
    benchmark_return: Decimal | None
    equal_weight_return: Decimal | None
    pnl_by_symbol: dict[str, Decimal]
    allocation: list[AllocationSlice]
    series: list[SeriesPoint]


#: Analytics are cached per ledger state and prices version; this only bounds how long an unread entry lives.
ANALYTICS_CACHE_SECONDS = 6 * 3600


def portfolio_analytics(*, user: User) -> AnalyticsReport:
    """Analytics of one user's whole history, from the ledger and the daily closes (two queries; one when cached).

    The ledger is append-only, so its length and last id identify its state; with the prices version
    (:func:`market.selectors.prices_version`, new after every bar write) they key a cached report, which
    can therefore never be stale: a trade or a price refresh makes a new key.
    """
    rows = list(
        Trade.objects.filter(user=user)
        .order_by("id")
        .values_list("id", "executed_at", "side", "symbol", "shares", "price", "cash_delta")
    )
    key = f"portfolio:analytics:v1:{user.pk}:{len(rows)}:{rows[-1][0] if rows else 0}:{prices_version()}"
    cached = cache.get(key)
    if isinstance(cached, AnalyticsReport):
        return cached
    report = _analytics_report([row[1:] for row in rows])
    cache.set(key, report, timeout=ANALYTICS_CACHE_SECONDS)
    return report


def _analytics_report(rows: list[tuple[Any, ...]]) -> AnalyticsReport:
    ledger = pd.DataFrame(rows, columns=["executed_at", "side", "symbol", "shares", "price", "cash_delta"])
    closes = pd.DataFrame()
    if rows:
        first_day = min(r[0] for r in rows).date() - timedelta(days=10)
        # Only the symbols with a bar in the period, as a query from first_day would return.
        closes = daily_closes().loc[pd.Timestamp(first_day) :].dropna(axis=1, how="all")
        for column in ("shares", "price", "cash_delta"):
            ledger[column] = ledger[column].astype(float)
    if closes.empty:
        closes = pd.DataFrame(index=pd.DatetimeIndex([]), columns=list(TRADABLE), dtype=float)
    result = analytics.portfolio_analytics(ledger, closes)

    def day(value: Any) -> date | None:
        return value.date() if value is not None else None

    equity = _money(result.equity) or MONEY_ZERO
    series = [
        SeriesPoint(
            date=index.date(),
            equity=q2(Decimal(repr(row.equity))),
            net_deposits=q2(Decimal(repr(row.net_flows))),
            pnl=q2(Decimal(repr(row.pnl))),
            twr_index=_ratio(row.twr_index) or Decimal(0),
            benchmark_index=_ratio(getattr(row, "benchmark_index", None)),
        )
        for index, row in zip(result.series.index, result.series.itertuples(index=False), strict=True)
    ]
    allocation = [
        AllocationSlice(
            symbol=symbol,
            value=_money(value) or MONEY_ZERO,
            weight=_ratio(value / result.equity) if result.equity > 0 else None,
        )
        for symbol, value in result.allocation.items()
    ]
    return AnalyticsReport(
        start=day(result.start),
        end=day(result.end),
        observations=result.observations,
        equity=equity,
        twr=_ratio(result.twr),
        mwr_period=_ratio(result.mwr_period),
        mwr_annualized=_ratio(result.mwr_annualized),
        volatility_daily=_ratio(result.volatility_daily),
        volatility_annualized=_ratio(result.volatility_annualized),
        beta=_ratio(result.beta),
        correlation=_ratio(result.correlation),
        var_95=_ratio(result.var_95),
        cvar_95=_ratio(result.cvar_95),
        var_95_amount=_money(result.var_95_amount),
        cvar_95_amount=_money(result.cvar_95_amount),
        max_drawdown=_ratio(result.max_drawdown),
        max_drawdown_peak=day(result.max_drawdown_peak),
        max_drawdown_trough=day(result.max_drawdown_trough),
        benchmark_return=_ratio(result.benchmark_return),
        equal_weight_return=_ratio(result.equal_weight_return),
        pnl_by_symbol={s: _money(v) or MONEY_ZERO for s, v in result.pnl_by_symbol.items()},
        allocation=allocation,
        series=series,
    )
