"""The former pandas implementation of :mod:`portfolios.core.analytics`, kept unchanged as the tests' oracle.

The product computes the same figures in pure Python (a web worker must not import pandas);
``test_analytics`` holds the two equal on random ledgers and on real prices.

Portfolio analytics from a ledger and daily closes: pure pandas/numpy, no Django.

Inputs
    ``ledger``: one row per ledger entry, in ledger order, with columns ``executed_at`` (tz-aware
    or naive UTC timestamps), ``side`` (BUY/SELL/SHORT/COVER/DEPOSIT/WITHDRAW), ``symbol``,
    ``shares``, ``price``, ``cash_delta`` (signed cash movement, fees included).
    ``closes``: daily closes, a ``DatetimeIndex`` of NYSE sessions, one column per symbol (the five
    and, for the benchmark, ``SPY``).

Time
    An entry executed on calendar day *d* counts from the close of the first session on or after
    *d*. The value on session *t* uses only entries up to *t* and closes up to *t* (prices are
    forward-filled, never back-filled), so nothing computed "as of t" depends on later data.

Conventions
    Equity = cash + sum(signed shares x close) (a short is a liability). External flows are
    deposits (+) and withdrawals (-); they are assumed to arrive at the start of their session.
    Daily return r_t = V_t / (V_{t-1} + F_t) - 1 (flows at the start of the day: a deposit made
    today cannot inflate today's return); the time-weighted return chains these. The
    money-weighted return is the IRR of the external flows and the final value, over the whole
    period, and annualised only when the period is a year or longer. Volatility is annualised with sqrt(252). VaR/CVaR are
    historical, one day, 95 %, reported as positive loss fractions (and in dollars at the last
    equity). Drawdown is measured on the time-weighted index, so deposits do not hide losses.
    Floats are used here only; callers quantise money back to ``Decimal``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TRADING_DAYS = 252
VAR_LEVEL = 0.95
#: Fewer daily returns than this and a risk figure (volatility, beta, VaR) is not reported.
MIN_OBSERVATIONS = 20
BENCHMARK = "SPY"

_SHARE_SIGN = {"BUY": 1.0, "SELL": -1.0, "SHORT": -1.0, "COVER": 1.0}
_FLOW_SIGN = {"DEPOSIT": 1.0, "WITHDRAW": -1.0}


@dataclass
class Analytics:
    """Everything ``portfolio_analytics`` computes. Money in dollars (float), ratios as fractions."""

    series: pd.DataFrame  # index: sessions; columns: equity, cash, net_flows, pnl, daily_return, twr_index
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    equity: float = 0.0
    twr: float | None = None
    mwr_annualized: float | None = None
    mwr_period: float | None = None
    volatility_daily: float | None = None
    volatility_annualized: float | None = None
    beta: float | None = None
    correlation: float | None = None
    var_95: float | None = None
    cvar_95: float | None = None
    var_95_amount: float | None = None
    cvar_95_amount: float | None = None
    max_drawdown: float | None = None
    max_drawdown_peak: pd.Timestamp | None = None
    max_drawdown_trough: pd.Timestamp | None = None
    pnl_by_symbol: dict[str, float] = field(default_factory=dict)
    allocation: dict[str, float] = field(default_factory=dict)  # signed market value per symbol, plus "CASH"
    benchmark_return: float | None = None  # SPY over the same sessions
    equal_weight_return: float | None = None  # equal dollars in each of the five at the start, held
    observations: int = 0


def _sessions(ledger: pd.DataFrame, closes: pd.DataFrame) -> pd.DatetimeIndex:
    first = ledger["executed_at"].min().normalize()
    last_entry = ledger["executed_at"].max().normalize()
    dates = closes.index[closes.index >= first]
    if len(dates) == 0 or last_entry > dates[-1]:
        dates = dates.append(pd.DatetimeIndex([last_entry]))  # entries after the last close still count
    return pd.DatetimeIndex(dates).unique().sort_values()


def _as_utc_naive(stamps: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(stamps)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


def daily_series(ledger: pd.DataFrame, closes: pd.DataFrame) -> pd.DataFrame:
    """Holdings, cash, equity, flows and returns per session (see the module docstring for timing)."""
    if ledger.empty:
        return pd.DataFrame(columns=["equity", "cash", "net_flows", "flow", "pnl", "daily_return", "twr_index"])
    ledger = ledger.assign(executed_at=_as_utc_naive(ledger["executed_at"]))
    closes = closes.sort_index()
    sessions = _sessions(ledger, closes)
    # Each entry lands on the first session on or after its calendar day.
    position = sessions.searchsorted(ledger["executed_at"].dt.normalize(), side="left")
    day = sessions[np.minimum(position, len(sessions) - 1)]
    entries = ledger.assign(day=day)

    trades = entries[entries["side"].isin(list(_SHARE_SIGN))]
    symbols = sorted(set(trades["symbol"]))
    shares = pd.DataFrame(0.0, index=sessions, columns=symbols)
    px = pd.DataFrame(np.nan, index=sessions, columns=symbols)
    if symbols:
        signed = trades.assign(signed=trades["shares"].astype(float) * trades["side"].map(_SHARE_SIGN))
        shares = (
            signed.pivot_table(index="day", columns="symbol", values="signed", aggfunc="sum")
            .reindex(index=sessions, columns=symbols)
            .fillna(0.0)
            .cumsum()
        )
        # Close where known; before a symbol's first close, its last trade price (both only look back).
        known = closes.reindex(columns=symbols)
        px = known.reindex(sessions.union(known.index)).ffill().reindex(sessions)
        traded_px = trades.groupby(["day", "symbol"])["price"].last().astype(float).unstack()
        px = px.fillna(traded_px.reindex(index=sessions, columns=symbols).ffill())
    cash = entries.groupby("day")["cash_delta"].sum().astype(float).reindex(sessions).fillna(0.0).cumsum()
    flows_only = entries[entries["side"].isin(list(_FLOW_SIGN))]
    flow = flows_only.groupby("day")["cash_delta"].sum().astype(float).reindex(sessions).fillna(0.0)

    holdings_value = (shares * px.fillna(0.0)).sum(axis=1)
    equity = cash + holdings_value

    previous = equity.shift(1).fillna(0.0)
    base = previous + flow
    with np.errstate(divide="ignore", invalid="ignore"):
        daily_return = (equity / base - 1.0).where(base > 0)
    net_flows = flow.cumsum()
    series = pd.DataFrame(
        {
            "equity": equity,
            "cash": cash,
            "flow": flow,
            "net_flows": net_flows,
            "pnl": equity - net_flows,
            "daily_return": daily_return,
        }
    )
    series["twr_index"] = (1.0 + series["daily_return"].fillna(0.0)).cumprod()
    for symbol in symbols:
        series[f"value_{symbol}"] = shares[symbol] * px[symbol].fillna(0.0)
    return series


def irr(flows: list[tuple[pd.Timestamp, float]], *, period_days: float = 365.0) -> float | None:
    """Rate r per ``period_days`` with sum(cf * (1 + r) ** -(days / period_days)) = 0, by bisection.

    ``None`` when the flows do not change sign (no rate exists).
    """
    if len(flows) < 2:
        return None
    t0 = flows[0][0]
    years = np.array([(t - t0).days / period_days for t, _ in flows])
    amounts = np.array([cf for _, cf in flows])
    if not (np.any(amounts > 0) and np.any(amounts < 0)):
        return None

    def npv(rate: float) -> float:
        return float(np.sum(amounts / np.power(1.0 + rate, years)))

    low, high = -0.9999, 1.0
    while npv(high) > 0 and high < 1e9:  # widen until the sign changes
        high *= 10
    f_low, f_high = npv(low), npv(high)
    if math.isnan(f_low) or math.isnan(f_high) or f_low * f_high > 0:
        return None
    for _ in range(200):
        mid = (low + high) / 2
        f_mid = npv(mid)
        if f_mid == 0 or (high - low) < 1e-12:
            break
        if f_low * f_mid < 0:
            high = mid
        else:
            low, f_low = mid, f_mid
    return (low + high) / 2


def max_drawdown(index: pd.Series) -> tuple[float, pd.Timestamp | None, pd.Timestamp | None]:
    """Deepest fall of ``index`` from a previous peak, as a negative fraction, with peak and trough dates."""
    if index.empty:
        return 0.0, None, None
    running_peak = index.cummax()
    drawdown = index / running_peak - 1.0
    trough = drawdown.idxmin()
    if drawdown[trough] >= 0:
        return 0.0, None, None
    peak = index.loc[:trough].idxmax()
    return float(drawdown[trough]), peak, trough


def historical_var(returns: pd.Series, level: float = VAR_LEVEL) -> tuple[float, float] | None:
    """One-day historical VaR and CVaR as positive loss fractions (``None`` with too few returns)."""
    r = returns.dropna()
    if len(r) < MIN_OBSERVATIONS:
        return None
    cutoff = float(np.quantile(r.to_numpy(), 1.0 - level))
    tail = r[r <= cutoff]
    return -cutoff, -float(tail.mean())


def portfolio_analytics(ledger: pd.DataFrame, closes: pd.DataFrame) -> Analytics:
    """All the figures of one portfolio, from its ledger and daily closes (up to the last session given)."""
    series = daily_series(ledger, closes)
    result = Analytics(series=series)
    if series.empty:
        return result
    result.start, result.end = series.index[0], series.index[-1]
    last = series.iloc[-1]
    result.equity = float(last["equity"])
    returns = series["daily_return"].dropna()
    result.observations = len(returns)
    result.twr = float(series["twr_index"].iloc[-1] - 1.0)

    # Money-weighted: the investor pays in deposits and receives withdrawals and the final value.
    flows = [(day, -float(f)) for day, f in series["flow"].items() if f != 0]
    flows.append((result.end, result.equity))
    # Solved per whole period, so a few days of history cannot overflow an annual rate; annualised
    # only over a year or more (a shorter return scaled up to a year says nothing).
    days = max((result.end - result.start).days, 1)
    period = irr(sorted(flows, key=lambda item: item[0]), period_days=days)
    if period is not None:
        result.mwr_period = period
        if days >= 365:
            result.mwr_annualized = (1.0 + period) ** (365.0 / days) - 1.0

    if len(returns) >= MIN_OBSERVATIONS:
        result.volatility_daily = float(returns.std(ddof=1))
        result.volatility_annualized = result.volatility_daily * math.sqrt(TRADING_DAYS)
        var = historical_var(returns)
        if var is not None:
            result.var_95, result.cvar_95 = var
            result.var_95_amount, result.cvar_95_amount = var[0] * result.equity, var[1] * result.equity
    if BENCHMARK in closes.columns:
        spy = closes[BENCHMARK].reindex(series.index.union(closes.index)).ffill().reindex(series.index)
        spy_returns = spy.pct_change(fill_method=None)
        both = pd.concat([returns, spy_returns], axis=1, keys=["p", "b"]).dropna()
        if len(both) >= MIN_OBSERVATIONS and both["b"].var(ddof=1) > 0:
            result.beta = float(both["p"].cov(both["b"]) / both["b"].var(ddof=1))
            if both["p"].std(ddof=1) > 0:
                result.correlation = float(both["p"].corr(both["b"]))
        if spy.notna().iloc[0] and spy.notna().iloc[-1]:
            result.benchmark_return = float(spy.iloc[-1] / spy.iloc[0] - 1.0)
            series["benchmark_index"] = spy / spy.iloc[0]

    result.max_drawdown, result.max_drawdown_peak, result.max_drawdown_trough = max_drawdown(series["twr_index"])

    # P&L per symbol = every cash movement of its trades (fees included) + what is held now.
    trades = ledger[ledger["side"].isin(list(_SHARE_SIGN))]
    flows_by_symbol = trades.groupby("symbol")["cash_delta"].sum().astype(float)
    values = {c.removeprefix("value_"): float(last[c]) for c in series.columns if c.startswith("value_")}
    result.pnl_by_symbol = {s: float(flows_by_symbol.get(s, 0.0)) + values.get(s, 0.0) for s in sorted(flows_by_symbol.index)}
    result.allocation = {s: v for s, v in values.items() if v != 0}
    result.allocation["CASH"] = float(last["cash"])

    five = [s for s in closes.columns if s != BENCHMARK]
    window = closes.reindex(series.index.union(closes.index)).ffill().reindex(series.index)
    start_px, end_px = window[five].iloc[0], window[five].iloc[-1]
    valid = start_px.notna() & end_px.notna() & (start_px > 0)
    if valid.any():
        result.equal_weight_return = float((end_px[valid] / start_px[valid] - 1.0).mean())
    return result
