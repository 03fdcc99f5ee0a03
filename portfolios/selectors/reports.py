"""Analytics of a user: computed from the ledger and the daily closes by :mod:`portfolios.core.analytics`, stored
as a :class:`~portfolios.models.PortfolioSnapshot`, and read back from it.

A request reads the snapshot with the user's newest ledger id beside it (one query over two indexed rows) and
answers from the stored JSON: no pandas, no numpy, no recomputation. The snapshot is recomputed by a task after
the close and after each ledger write (:mod:`portfolios.services.snapshots`); a request that finds it missing or outdated
(another format, an older ledger, another prices version) recomputes it in pure Python and stores it,
so an outdated snapshot is never shown.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from market.models import PriceBar
from market.selectors import prices_version
from market.symbols import ALL_SYMBOLS
from portfolios.core import analytics
from portfolios.core.ledger import q2
from portfolios.models import PortfolioSnapshot, Trade
from portfolios.selectors.portfolio import MONEY_ZERO

logger = logging.getLogger(__name__)

RATIO_STEP = Decimal("0.000001")
#: Layout of :attr:`PortfolioSnapshot.data`; change it with the layout, and every stored row is recomputed.
SNAPSHOT_FORMAT = 1
#: Closes before a user's first entry that the analytics may forward-fill from.
CLOSES_LOOKBACK = timedelta(days=10)
#: The closes are cached per prices version; this only bounds how long an unread copy lives.
CLOSES_CACHE_SECONDS = 24 * 3600


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
    """``portfolios.core.analytics`` figures as the API shows them: money in ``Decimal`` cents, ratios to 1e-6."""

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


_DATES = ("start", "end", "max_drawdown_peak", "max_drawdown_trough")
_DECIMALS = (
    "equity", "twr", "mwr_period", "mwr_annualized", "volatility_daily", "volatility_annualized", "beta", "correlation",
    "var_95", "cvar_95", "var_95_amount", "cvar_95_amount", "max_drawdown", "benchmark_return", "equal_weight_return",
)  # fmt: skip


# --- Computing ----------------------------------------------------------------------------------------


def daily_closes_since(first_day: date) -> analytics.Closes:
    """Every stored close from ``first_day`` on, as :class:`portfolios.core.analytics.Closes` (floats).

    The whole history is read once per prices version (:func:`market.selectors.prices_version`) and cached
    as plain lists and dicts (a pickled class would stop loading the day the class moves: the cache outlives a
    deploy); a slice is returned. Only symbols with a close in the period are columns.
    """
    key = f"portfolio:closes:v2:{prices_version()}"
    cached = cache.get(key)
    if isinstance(cached, tuple) and len(cached) == 2:
        dates, columns = cached
    else:
        rows = PriceBar.objects.filter(symbol__in=ALL_SYMBOLS).order_by("date").values_list("date", "symbol", "close")
        dates = []
        by_symbol: dict[str, dict[date, float]] = {}
        for day, symbol, close in rows:
            if not dates or dates[-1] != day:
                dates.append(day)
            by_symbol.setdefault(symbol, {})[day] = float(close)
        columns = {s: [v.get(d) for d in dates] for s, v in sorted(by_symbol.items())}
        cache.set(key, (dates, columns), timeout=CLOSES_CACHE_SECONDS)
    return analytics.Closes(dates=dates, columns=columns).since(first_day)


def ledger_entries(rows: list[tuple[Any, ...]]) -> list[analytics.Entry]:
    """``(executed_at, side, symbol, shares, price, cash_delta)`` ledger rows as analytics entries."""
    return [
        analytics.Entry(
            executed_at=at, side=side, symbol=symbol, shares=float(shares), price=float(price), cash_delta=float(cash)
        )
        for at, side, symbol, shares, price, cash in rows
    ]


def _ledger_rows(user_id: int) -> list[tuple[Any, ...]]:
    return list(
        Trade.objects.filter(user_id=user_id)
        .order_by("id")
        .values_list("id", "executed_at", "side", "symbol", "shares", "price", "cash_delta")
    )


def analytics_report(rows: list[tuple[Any, ...]], closes: analytics.Closes | None = None) -> AnalyticsReport:
    """The report of a ledger (``(executed_at, side, symbol, shares, price, cash_delta)`` rows in ledger order).

    ``closes``: every close (sliced here from the first entry on); read from the database when not given.
    """
    entries = ledger_entries(rows)
    prices = analytics.Closes(dates=[], columns={})
    if entries:
        first_day = min(analytics.utc_day(e.executed_at) for e in entries) - CLOSES_LOOKBACK
        prices = closes.since(first_day) if closes is not None else daily_closes_since(first_day)
    result = analytics.portfolio_analytics(entries, prices)
    columns = result.series.columns
    benchmark = columns.get("benchmark_index")
    series = [
        SeriesPoint(
            date=day,
            equity=q2(Decimal(repr(columns["equity"][i]))),
            net_deposits=q2(Decimal(repr(columns["net_flows"][i]))),
            pnl=q2(Decimal(repr(columns["pnl"][i]))),
            twr_index=_ratio(columns["twr_index"][i]) or Decimal(0),
            benchmark_index=_ratio(benchmark[i]) if benchmark is not None else None,
        )
        for i, day in enumerate(result.series.index)
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
        start=result.start,
        end=result.end,
        observations=result.observations,
        equity=_money(result.equity) or MONEY_ZERO,
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
        max_drawdown_peak=result.max_drawdown_peak,
        max_drawdown_trough=result.max_drawdown_trough,
        benchmark_return=_ratio(result.benchmark_return),
        equal_weight_return=_ratio(result.equal_weight_return),
        pnl_by_symbol={s: _money(v) or MONEY_ZERO for s, v in result.pnl_by_symbol.items()},
        allocation=allocation,
        series=series,
    )


# --- The stored (API) shape -------------------------------------------------------------------------


def _text(value: Decimal | date | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else f"{value:f}"


def report_data(report: AnalyticsReport) -> dict[str, Any]:
    """The report as the analytics API answers it (decimals as strings, dates ISO): what a snapshot stores."""
    data: dict[str, Any] = {name: _text(getattr(report, name)) for name in _DATES}
    data["observations"] = report.observations
    data.update({name: _text(getattr(report, name)) for name in _DECIMALS})
    data["pnl_by_symbol"] = {s: _text(v) for s, v in report.pnl_by_symbol.items()}
    data["allocation"] = [{"symbol": a.symbol, "value": _text(a.value), "weight": _text(a.weight)} for a in report.allocation]
    data["series"] = [
        {
            "date": p.date.isoformat(),
            "equity": _text(p.equity),
            "net_deposits": _text(p.net_deposits),
            "pnl": _text(p.pnl),
            "twr_index": _text(p.twr_index),
            "benchmark_index": _text(p.benchmark_index),
        }
        for p in report.series
    ]
    return data


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def report_from_data(data: dict[str, Any], *, with_series: bool = True) -> AnalyticsReport:
    """:func:`report_data` read back (``with_series=False``: an empty series, for pages that only show figures)."""
    figures: dict[str, Any] = {name: _day(data[name]) for name in _DATES}
    figures.update({name: _decimal(data[name]) for name in _DECIMALS})
    return AnalyticsReport(
        observations=data["observations"],
        pnl_by_symbol={s: Decimal(v) for s, v in data["pnl_by_symbol"].items()},
        allocation=[AllocationSlice(a["symbol"], Decimal(a["value"]), _decimal(a["weight"])) for a in data["allocation"]],
        series=[
            SeriesPoint(
                date=date.fromisoformat(p["date"]),
                equity=Decimal(p["equity"]),
                net_deposits=Decimal(p["net_deposits"]),
                pnl=Decimal(p["pnl"]),
                twr_index=Decimal(p["twr_index"]),
                benchmark_index=_decimal(p["benchmark_index"]),
            )
            for p in (data["series"] if with_series else [])
        ],
        **figures,
    )


# --- Snapshots ------------------------------------------------------------------------------------------


def ledger_last_id(user_id: int) -> int:
    """The id of the user's newest ledger entry (0 without one): the ledger is append-only, so it names its state."""
    return Trade.objects.filter(user_id=user_id).order_by("-id").values_list("id", flat=True).first() or 0


def snapshot_is_current(snapshot: PortfolioSnapshot | None, *, last_id: int, version: str) -> bool:
    """Whether ``snapshot`` was computed from this ledger state and these prices, in the current format."""
    return (
        snapshot is not None
        and snapshot.format == SNAPSHOT_FORMAT
        and snapshot.ledger_last_id == last_id
        and snapshot.prices_version == version
    )


def snapshot_compute(user_id: int, *, closes: analytics.Closes | None = None) -> PortfolioSnapshot:
    """Compute a user's snapshot from the ledger and closes now, and store it (a newer stored one is kept).

    The prices version is read before the closes, so a bar written meanwhile makes the row outdated
    rather than wrongly current.
    """
    version = prices_version()
    rows = _ledger_rows(user_id)
    last_id = rows[-1][0] if rows else 0
    data = report_data(analytics_report([row[1:] for row in rows], closes))
    snapshot = PortfolioSnapshot(
        user_id=user_id,
        format=SNAPSHOT_FORMAT,
        ledger_last_id=last_id,
        prices_version=version,
        data=data,
        computed_at=timezone.now(),
    )
    fields = {name: getattr(snapshot, name) for name in ("format", "ledger_last_id", "prices_version", "data", "computed_at")}
    try:
        with transaction.atomic():
            # Compare-and-set: a slower computation from an older ledger never replaces a newer row.
            updated = PortfolioSnapshot.objects.filter(user_id=user_id, ledger_last_id__lte=last_id).update(**fields)
            if not updated:
                try:
                    with transaction.atomic():
                        PortfolioSnapshot.objects.create(**fields, user_id=user_id)
                except IntegrityError:
                    pass  # a newer row exists (or another process just stored the same one)
    except OperationalError:
        # Storing is a cache write: when the database refuses it for now (SQLite's lock under concurrent
        # writers, a lock wait timeout), the figures are still served; the next read or task stores them.
        logger.warning("portfolio snapshot of user %s not stored: the database is busy", user_id)
    return snapshot


def portfolio_analytics_data(*, user: User) -> dict[str, Any]:
    """The user's analytics in the API's JSON shape: the snapshot when current, else recomputed now and stored.

    One query when the snapshot is current (the usual case: tasks refresh it after the close and after each ledger
    write): the snapshot with the id of the newest ledger entry beside it, so both come from the same moment; never
    an outdated snapshot.
    """
    newest = Trade.objects.filter(user_id=OuterRef("user_id")).order_by("-id").values("id")[:1]
    snapshot = PortfolioSnapshot.objects.filter(user_id=user.pk).annotate(ledger_now=Subquery(newest)).first()
    if snapshot is not None and snapshot_is_current(snapshot, last_id=snapshot.ledger_now or 0, version=prices_version()):
        return snapshot.data  # type: ignore[no-any-return]
    return snapshot_compute(user.pk).data  # type: ignore[no-any-return]


def portfolio_analytics(*, user: User) -> AnalyticsReport:
    """Analytics of one user's whole history, from the ledger and the daily closes (see :func:`portfolio_analytics_data`)."""
    return report_from_data(portfolio_analytics_data(user=user))
