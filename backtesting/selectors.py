"""Reads for the backtesting lab: stored runs (scoped to who may see them) and the bars a run needs."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Min, QuerySet

from accounts.roles import is_operator
from backtesting.models import BacktestRun
from market.models import PriceBar
from market.symbols import ALL_SYMBOLS, BENCHMARK, TRADABLE
from quantai.errors import NotFound

if TYPE_CHECKING:  # the engine (and numpy, pandas) is imported by the one reader that builds its bars
    from backtesting.engine.data import Bars


def backtest_runs_visible_to(*, user: Any) -> QuerySet[BacktestRun]:
    """Investors see their own runs; operators (staff) and administrators see everyone's."""
    runs = BacktestRun.objects.select_related("owner")
    return runs if is_operator(user) else runs.filter(owner=user)


def backtest_run_get(*, user: Any, run_id: int | str) -> BacktestRun:
    """One run the user may see; :class:`NotFound` otherwise (another investor's id included: ids are no oracle)."""
    if not str(run_id).isdigit():
        raise NotFound("No such backtest.")
    run = backtest_runs_visible_to(user=user).filter(pk=int(run_id)).first()
    if run is None:
        raise NotFound("No such backtest.")
    return run


def price_coverage(*, start: date | None, end: date | None) -> dict[str, Any]:
    """Sessions with stock prices in the period (``stock_days``) and before it up to its end
    (``days_before``), SPY's in the period, and the first and last stored session of the stocks (four
    aggregate queries). What a backtest of the period can see, before its bars are loaded."""
    stored = PriceBar.objects.filter(symbol__in=TRADABLE)
    bars = PriceBar.objects.all()
    if start is not None:
        bars = bars.filter(date__gte=start)
    if end is not None:
        bars = bars.filter(date__lte=end)
    stocks = bars.filter(symbol__in=TRADABLE).aggregate(days=Count("date", distinct=True), first=Min("date"), last=Max("date"))
    spy = bars.filter(symbol=BENCHMARK).aggregate(days=Count("date"))
    before = 0
    if start is not None:
        before = stored.filter(date__lt=start).aggregate(days=Count("date", distinct=True))["days"]
    overall = stored.aggregate(first=Min("date"), last=Max("date"))
    return {
        "stock_days": stocks["days"],
        "spy_days": spy["days"],
        "first": stocks["first"],
        "last": stocks["last"],
        "days_before": before,
        "stored_first": overall["first"],
        "stored_last": overall["last"],
    }


def backtest_bars(*, start: date | None = None, end: date | None = None) -> Bars:
    """The five stocks and SPY as the engine's aligned float bars, in one query (a backtest reads every
    stored session up to its period's end: the earlier ones warm its indicators up and train its models).

    Stored prices are Decimal; they become float here, at the door of the numerical core. Open, high
    and low are scaled by ``adj_close / close`` so every field is on the adjusted (total-return) scale
    whatever the provider delivered (the factor is 1 when the close is already adjusted).
    """
    import numpy as np
    import pandas as pd

    from backtesting.engine.data import Bars

    rows = PriceBar.objects.filter(symbol__in=ALL_SYMBOLS)
    if start is not None:
        rows = rows.filter(date__gte=start)
    if end is not None:
        rows = rows.filter(date__lte=end)
    data = list(rows.order_by("date", "symbol").values_list("date", "symbol", "open", "high", "low", "close", "adj_close"))
    symbols = ALL_SYMBOLS
    if not data:
        empty = np.empty((0, len(symbols)))
        return Bars(pd.DatetimeIndex([]), symbols, empty, empty.copy(), empty.copy(), empty.copy())
    dates = sorted({r[0] for r in data})
    row_of = {d: i for i, d in enumerate(dates)}
    col_of = {s: j for j, s in enumerate(symbols)}
    values = np.full((4, len(dates), len(symbols)), np.nan)
    for day, symbol, o, h, lo, c, adj in data:
        factor = float(adj) / float(c)
        values[:, row_of[day], col_of[symbol]] = (float(o) * factor, float(h) * factor, float(lo) * factor, float(adj))
    return Bars(pd.DatetimeIndex(dates), symbols, values[0], values[1], values[2], values[3])
