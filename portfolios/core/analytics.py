"""Portfolio analytics from a ledger and daily closes: pure Python (no numpy, no pandas, no Django).

Pure Python on purpose: a web worker recomputes a missing or outdated snapshot in the request
(:mod:`portfolios.selectors.reports`), and it must not load pandas for that. A few thousand sessions
of five symbols are a few milliseconds of plain loops.

Inputs
    ``ledger``: :class:`Entry` rows in ledger order (``executed_at`` tz-aware or naive UTC;
    ``side`` BUY/SELL/SHORT/COVER/DEPOSIT/WITHDRAW; ``cash_delta`` the signed cash movement, fees
    included). ``closes``: :class:`Closes`, the daily closes of NYSE sessions, one column per symbol
    (the five and, for the benchmark, ``SPY``), ``None`` where a symbol has no close.

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
    period, and annualised only when the period is a year or longer. Volatility is annualised with
    sqrt(252). VaR/CVaR are historical, one day, 95 %, reported as positive loss fractions (and in
    dollars at the last equity). Drawdown is measured on the time-weighted index, so deposits do not
    hide losses. Floats are used here only; callers quantise money back to ``Decimal``.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

TRADING_DAYS = 252
VAR_LEVEL = 0.95
#: Fewer daily returns than this and a risk figure (volatility, beta, VaR) is not reported.
MIN_OBSERVATIONS = 20
BENCHMARK = "SPY"

_SHARE_SIGN = {"BUY": 1.0, "SELL": -1.0, "SHORT": -1.0, "COVER": 1.0}
_FLOW_SIDES = frozenset({"DEPOSIT", "WITHDRAW"})


@dataclass(frozen=True)
class Entry:
    """One ledger row as the analytics see it (floats)."""

    executed_at: datetime | date
    side: str
    symbol: str = ""
    shares: float = 0.0
    price: float = 0.0
    cash_delta: float = 0.0


@dataclass(frozen=True)
class Closes:
    """Daily closes: ``dates`` ascending and unique; ``columns[symbol][i]`` is the close on ``dates[i]`` or ``None``."""

    dates: Sequence[date]
    columns: Mapping[str, Sequence[float | None]]

    def since(self, day: date) -> Closes:
        """The closes on or after ``day``, without the symbols that have none there."""
        start = bisect_left(self.dates, day)
        columns = {s: list(v[start:]) for s, v in self.columns.items() if any(x is not None for x in v[start:])}
        return Closes(dates=list(self.dates[start:]), columns=columns)

    def until(self, day: date) -> Closes:
        """The closes on or before ``day`` (every column kept)."""
        end = bisect_right(self.dates, day)
        return Closes(dates=list(self.dates[:end]), columns={s: list(v[:end]) for s, v in self.columns.items()})

    def filled(self, symbol: str, sessions: Sequence[date]) -> list[float | None]:
        """The last close of ``symbol`` on or before each of ``sessions`` (``None`` before its first)."""
        values = self.columns.get(symbol)
        out: list[float | None] = []
        if values is None:
            return [None] * len(sessions)
        last: float | None = None
        i = 0
        for day in sessions:
            while i < len(self.dates) and self.dates[i] <= day:
                if values[i] is not None:
                    last = values[i]
                i += 1
            out.append(last)
        return out


@dataclass
class Series:
    """Per-session columns (``equity``, ``cash``, ``flow``, ``net_flows``, ``pnl``, ``daily_return``,
    ``twr_index``, ``value_<SYMBOL>`` and, with SPY, ``benchmark_index``) on ``index`` (session dates)."""

    index: list[date] = field(default_factory=list)
    columns: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.index

    def __getitem__(self, name: str) -> list[float | None]:
        return self.columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def at(self, day: date, name: str) -> float | None:
        return self.columns[name][self.index.index(day)]


@dataclass
class Analytics:
    """Everything ``portfolio_analytics`` computes. Money in dollars (float), ratios as fractions."""

    series: Series
    start: date | None = None
    end: date | None = None
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
    max_drawdown_peak: date | None = None
    max_drawdown_trough: date | None = None
    pnl_by_symbol: dict[str, float] = field(default_factory=dict)
    allocation: dict[str, float] = field(default_factory=dict)  # signed market value per symbol, plus "CASH"
    benchmark_return: float | None = None  # SPY over the same sessions
    equal_weight_return: float | None = None  # equal dollars in each of the five at the start, held
    observations: int = 0


def utc_day(moment: datetime | date) -> date:
    """The UTC calendar date of an entry (naive datetimes are UTC)."""
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date()
    return moment


def _sessions(days: Sequence[date], closes: Closes) -> list[date]:
    first, last_entry = min(days), max(days)
    sessions = [d for d in closes.dates if d >= first]
    if not sessions or last_entry > sessions[-1]:
        sessions.append(last_entry)  # entries after the last close still count
    return sorted(set(sessions))


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _var(values: Sequence[float]) -> float:
    """Sample variance (ddof=1)."""
    m = _mean(values)
    return math.fsum((v - m) ** 2 for v in values) / (len(values) - 1)


def _cov(a: Sequence[float], b: Sequence[float]) -> float:
    ma, mb = _mean(a), _mean(b)
    return math.fsum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / (len(a) - 1)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation between order statistics (numpy's default method)."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def daily_series(ledger: Sequence[Entry], closes: Closes) -> Series:
    """Holdings, cash, equity, flows and returns per session (see the module docstring for timing)."""
    if not ledger:
        return Series(columns={k: [] for k in ("equity", "cash", "net_flows", "flow", "pnl", "daily_return", "twr_index")})
    entry_days = [utc_day(e.executed_at) for e in ledger]
    sessions = _sessions(entry_days, closes)
    n = len(sessions)
    # Each entry lands on the first session on or after its calendar day.
    slot = [min(bisect_left(sessions, d), n - 1) for d in entry_days]

    symbols = sorted({e.symbol for e in ledger if e.side in _SHARE_SIGN})
    delta = {s: [0.0] * n for s in symbols}
    traded_px: dict[str, list[float | None]] = {s: [None] * n for s in symbols}
    cash_day, flow_day = [0.0] * n, [0.0] * n
    for entry, i in zip(ledger, slot, strict=True):
        cash_day[i] += float(entry.cash_delta)
        if entry.side in _SHARE_SIGN:
            delta[entry.symbol][i] += float(entry.shares) * _SHARE_SIGN[entry.side]
            traded_px[entry.symbol][i] = float(entry.price)  # the day's last trade price
        elif entry.side in _FLOW_SIDES:
            flow_day[i] += float(entry.cash_delta)

    columns: dict[str, list[float | None]] = {}
    holdings = [0.0] * n
    for symbol in symbols:
        # Close where known; before a symbol's first close, its last trade price (both only look back).
        px = closes.filled(symbol, sessions)
        shares, last_trade = 0.0, None
        values: list[float | None] = []
        for i in range(n):
            shares += delta[symbol][i]
            if traded_px[symbol][i] is not None:
                last_trade = traded_px[symbol][i]
            price = px[i] if px[i] is not None else last_trade
            value = shares * (price if price is not None else 0.0)
            values.append(value)
            holdings[i] += value
        columns[f"value_{symbol}"] = values

    equity: list[float] = []
    cash: list[float] = []
    net_flows: list[float] = []
    pnl: list[float] = []
    daily_return: list[float | None] = []
    twr_index: list[float] = []
    balance = flows = previous = 0.0
    growth = 1.0
    for i in range(n):
        balance += cash_day[i]
        flows += flow_day[i]
        value = balance + holdings[i]
        base = previous + flow_day[i]
        r = value / base - 1.0 if base > 0 else None
        growth *= 1.0 + (r or 0.0)
        equity.append(value)
        cash.append(balance)
        net_flows.append(flows)
        pnl.append(value - flows)
        daily_return.append(r)
        twr_index.append(growth)
        previous = value
    base_columns: dict[str, list[float | None]] = {
        "equity": list(equity),
        "cash": list(cash),
        "flow": list(flow_day),
        "net_flows": list(net_flows),
        "pnl": list(pnl),
        "daily_return": daily_return,
        "twr_index": list(twr_index),
    }
    return Series(index=sessions, columns={**base_columns, **columns})


def irr(flows: Sequence[tuple[date, float]], *, period_days: float = 365.0) -> float | None:
    """Rate r per ``period_days`` with sum(cf * (1 + r) ** -(days / period_days)) = 0, by bisection.

    ``None`` when the flows do not change sign (no rate exists).
    """
    if len(flows) < 2:
        return None
    t0 = flows[0][0]
    years = [(t - t0).days / period_days for t, _ in flows]
    amounts = [cf for _, cf in flows]
    if not (any(a > 0 for a in amounts) and any(a < 0 for a in amounts)):
        return None

    def npv(rate: float) -> float:
        try:
            return math.fsum(a / (1.0 + rate) ** y for a, y in zip(amounts, years, strict=True))
        except (OverflowError, ZeroDivisionError):
            return math.nan

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


def max_drawdown(index: Sequence[float], dates: Sequence[date] | None = None) -> tuple[float, date | None, date | None]:
    """Deepest fall of ``index`` from a previous peak, as a negative fraction, with peak and trough dates.

    Without ``dates`` the positions are returned instead of dates.
    """
    if not index:
        return 0.0, None, None
    labels: Sequence[date] | range = dates if dates is not None else range(len(index))
    peak_value, peak_at = -math.inf, 0
    deepest, trough_at, deepest_peak = 0.0, None, 0
    for i, value in enumerate(index):
        if value > peak_value:
            peak_value, peak_at = value, i
        drawdown = value / peak_value - 1.0
        if drawdown < deepest:
            deepest, trough_at, deepest_peak = drawdown, i, peak_at
    if trough_at is None:
        return 0.0, None, None
    return deepest, labels[deepest_peak], labels[trough_at]  # type: ignore[return-value]


def historical_var(returns: Iterable[float | None], level: float = VAR_LEVEL) -> tuple[float, float] | None:
    """One-day historical VaR and CVaR as positive loss fractions (``None`` with too few returns)."""
    r = [x for x in returns if x is not None and not math.isnan(x)]
    if len(r) < MIN_OBSERVATIONS:
        return None
    cutoff = quantile(r, 1.0 - level)
    tail = [x for x in r if x <= cutoff]
    return -cutoff, -_mean(tail)


def portfolio_analytics(ledger: Sequence[Entry], closes: Closes) -> Analytics:
    """All the figures of one portfolio, from its ledger and daily closes (up to the last session given)."""
    series = daily_series(ledger, closes)
    result = Analytics(series=series)
    if series.empty:
        return result
    sessions = series.index
    result.start, result.end = sessions[0], sessions[-1]
    result.equity = float(series["equity"][-1] or 0.0)
    returns = [(day, r) for day, r in zip(sessions, series["daily_return"], strict=True) if r is not None]
    result.observations = len(returns)
    result.twr = float(series["twr_index"][-1] or 0.0) - 1.0

    # Money-weighted: the investor pays in deposits and receives withdrawals and the final value.
    flows = [(day, -float(f or 0.0)) for day, f in zip(sessions, series["flow"], strict=True) if f]
    flows.append((result.end, result.equity))
    # Solved per whole period, so a few days of history cannot overflow an annual rate; annualised
    # only over a year or more (a shorter return scaled up to a year says nothing).
    days = max((result.end - result.start).days, 1)
    period = irr(sorted(flows, key=lambda item: item[0]), period_days=days)
    if period is not None:
        result.mwr_period = period
        if days >= 365:
            result.mwr_annualized = (1.0 + period) ** (365.0 / days) - 1.0

    values = [r for _, r in returns]
    if len(values) >= MIN_OBSERVATIONS:
        result.volatility_daily = math.sqrt(_var(values))
        result.volatility_annualized = result.volatility_daily * math.sqrt(TRADING_DAYS)
        var = historical_var(values)
        if var is not None:
            result.var_95, result.cvar_95 = var
            result.var_95_amount, result.cvar_95_amount = var[0] * result.equity, var[1] * result.equity
    if BENCHMARK in closes.columns:
        spy = closes.filled(BENCHMARK, sessions)
        spy_return = {
            sessions[i]: spy[i] / spy[i - 1] - 1.0  # type: ignore[operator]
            for i in range(1, len(sessions))
            if spy[i] is not None and spy[i - 1] is not None
        }
        both = [(r, spy_return[day]) for day, r in returns if day in spy_return]
        if len(both) >= MIN_OBSERVATIONS:
            p, b = [x for x, _ in both], [y for _, y in both]
            var_b = _var(b)
            if var_b > 0:
                result.beta = _cov(p, b) / var_b
                var_p = _var(p)
                if var_p > 0:
                    result.correlation = _cov(p, b) / math.sqrt(var_p * var_b)
        if spy[0] is not None and spy[-1] is not None:
            result.benchmark_return = spy[-1] / spy[0] - 1.0
            series.columns["benchmark_index"] = [None if v is None else v / spy[0] for v in spy]

    twr = [float(v or 0.0) for v in series["twr_index"]]
    result.max_drawdown, result.max_drawdown_peak, result.max_drawdown_trough = max_drawdown(twr, sessions)

    # P&L per symbol = every cash movement of its trades (fees included) + what is held now.
    flows_by_symbol: dict[str, float] = {}
    for entry in ledger:
        if entry.side in _SHARE_SIGN:
            flows_by_symbol[entry.symbol] = flows_by_symbol.get(entry.symbol, 0.0) + float(entry.cash_delta)
    held = {name.removeprefix("value_"): float(v[-1] or 0.0) for name, v in series.columns.items() if name.startswith("value_")}
    result.pnl_by_symbol = {s: flows_by_symbol[s] + held.get(s, 0.0) for s in sorted(flows_by_symbol)}
    result.allocation = {s: v for s, v in held.items() if v != 0}
    result.allocation["CASH"] = float(series["cash"][-1] or 0.0)

    gains = []
    for symbol in closes.columns:
        if symbol == BENCHMARK:
            continue
        start_end = closes.filled(symbol, [sessions[0], sessions[-1]])
        first, last = start_end
        if first is not None and last is not None and first > 0:
            gains.append(last / first - 1.0)
    if gains:
        result.equal_weight_return = _mean(gains)
    return result
