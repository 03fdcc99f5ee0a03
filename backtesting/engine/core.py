"""The portfolio simulator: target weights in, equity, cash, positions and costs out.

Timing (the one rule that keeps a backtest honest): ``weights[t]`` is decided with information up to
and including the close of day ``t`` and is executed on day ``t + 1``, at that day's open
(``execution="next_open"``) or close (``execution="next_close"``). A signal on the last day is never
executed. Nothing is ever traded on the bar that produced the signal.

Semantics of a weights row (per parameter set):
- a row that is entirely NaN means "no order": positions are kept (shares, so weights drift);
- any other row is a full rebalance to those weights, as fractions of the equity valued at the
  execution price; NaN entries in such a row count as 0 (flat). Weights may sum to more than 1
  (leverage; cash goes negative, no margin interest) or be negative (short; see ``borrow_bps``).
- a symbol without a price at the execution bar (not listed yet) is never bought: its weight is 0.

Costs: ``commission_bps + slippage_bps`` are charged on the traded notional of every trade, including
stop exits; both are modelled as a cash charge at the execution price (slippage as a cost, not as a
different fill). ``borrow_bps`` is an annual fee on short notional, charged each day (1/252 per day) on
the close value of the shorts held through that close.

Stops (optional, per parameter set): ``stop_loss`` / ``take_profit`` are fractions relative to the
position's entry price (average price when added to; reset when opened or flipped). They are checked
on the bars AFTER the entry bar using that bar's low and high. Fill assumption: a long stop-loss at
``entry * (1 - stop_loss)`` fills at that price, or at the open if the bar opened beyond it (gap);
take-profit symmetrically (at the open if it gapped through, which favours us, as a resting limit
order would). If both levels are inside one bar the stop-loss is assumed to come first
(conservative). Shorts mirror this. After a stop exit the symbol stays flat until the strategy's target
for it changes. With ``next_open`` execution the day is: rebalance at the open, then stops during the
bar, then borrow at the close; with ``next_close``: stops during the bar, borrow, then rebalance at the
close.

Vectorisation: ``weights`` may carry a leading parameter-set axis (n_params, n_days, n_symbols); every
parameter set is simulated in the same array computation. Without stops the engine is fully vectorised
(returns-based accounting between rebalances, see ``_simulate_vector``); with stops it loops over days,
each step vectorised over parameter sets and symbols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .data import Bars
from .loop import STOP_LOSS as STOP_LOSS
from .loop import TAKE_PROFIT as TAKE_PROFIT
from .loop import simulate_loop

Execution = Literal["next_open", "next_close"]
TRADING_DAYS = 252


@dataclass(frozen=True)
class SimResult:
    """Everything the engine computed, per parameter set (leading axis P), per day (T), per symbol (N).

    Money is in the units of ``initial_cash``. Values are at each day's close, after that day's trades.
    """

    dates: pd.DatetimeIndex
    symbols: tuple[str, ...]
    close: np.ndarray  # (T, N) close used for valuation (forward-filled)
    equity: np.ndarray  # (P, T)
    cash: np.ndarray  # (P, T)
    shares: np.ndarray  # (P, T, N) fractional shares held at the close; negative = short
    turnover: np.ndarray  # (P, T) traded notional / equity before the trade (0.5 = half the book changed hands)
    costs: np.ndarray  # (P, T) commission + slippage paid that day
    borrow: np.ndarray  # (P, T) borrow fees paid that day
    stop_events: np.ndarray  # (P, T, N) int8: 0 none, 1 stop-loss, 2 take-profit exit on that day
    exec_price: np.ndarray | None = None  # (T, N) price rebalances fill at (forward-filled open or close)
    #: (P, T, N) cash received from that day's trades before costs (selling +, buying -), where the day loop
    #: recorded it (stop exits fill at their own price); None: every trade filled at ``exec_price``.
    trade_cash: np.ndarray | None = None
    #: (P, T, N) commission + slippage of that day's trades per symbol, where the day loop recorded it.
    trade_costs: np.ndarray | None = None

    @property
    def n_params(self) -> int:
        return self.equity.shape[0]

    @property
    def holdings(self) -> np.ndarray:
        """(P, T, N) market value of each position at the close."""
        return self.shares * self.close[None]

    @property
    def returns(self) -> np.ndarray:
        """(P, T) simple daily returns of equity; day 0 is 0 (the portfolio starts in cash)."""
        out = np.zeros_like(self.equity)
        out[:, 1:] = self.equity[:, 1:] / self.equity[:, :-1] - 1.0
        return out

    @property
    def gross_exposure(self) -> np.ndarray:
        """(P, T) sum of |position value| / equity."""
        out = np.einsum("ptn,tn->pt", np.abs(self.shares), np.abs(self.close))
        out /= self.equity
        return out

    @property
    def net_exposure(self) -> np.ndarray:
        """(P, T) sum of signed position value / equity."""
        return self.holdings.sum(axis=2) / self.equity

    @property
    def weights(self) -> np.ndarray:
        """(P, T, N) position value / equity at the close (the weights actually held)."""
        return self.holdings / self.equity[..., None]

    @property
    def trades(self) -> np.ndarray:
        """(P, T, N) shares bought (+) or sold (-) that day, stop exits included."""
        out = np.diff(self.shares, axis=1, prepend=0.0)
        return out

    def flows(self, p: int = 0) -> np.ndarray:
        """(T, N) cash from one parameter set's trades before costs (selling +, buying -)."""
        if self.trade_cash is not None:
            return self.trade_cash[p]
        if self.exec_price is None:
            raise ValueError("this result records neither trade cash nor execution prices")
        return -np.diff(self.shares[p], axis=0, prepend=0.0) * self.exec_price

    def symbol_costs(self, p: int, rate: float) -> np.ndarray:
        """(T, N) commission + slippage per symbol and day of one parameter set (``rate`` = bps / 1e4)."""
        if self.trade_costs is not None:
            return self.trade_costs[p]
        return rate * np.abs(self.flows(p))

    def frame(self, p: int = 0) -> pd.DataFrame:
        """One parameter set's daily series as a DataFrame (for charts and reports)."""
        return pd.DataFrame(
            {
                "equity": self.equity[p],
                "cash": self.cash[p],
                "turnover": self.turnover[p],
                "costs": self.costs[p],
                "borrow": self.borrow[p],
                "gross_exposure": self.gross_exposure[p],
                "net_exposure": self.net_exposure[p],
            },
            index=self.dates,
        )


def carry_in(weights: np.ndarray, start: int) -> np.ndarray:
    """Target weights from row ``start`` on, for a portfolio that starts in cash on that row.

    ``weights`` (P, T, N) were computed on the whole history, so the indicators are warmed up by the rows
    before ``start``; those rows are never traded. Row ``start`` becomes the target in force there (the
    last row with an order at or before it, NaN entries as flat), so the first decision of the window is
    the position a warmed-up system holds, not "no order" because its signal last changed earlier. Rows
    up to ``start`` are the only input of that row: no look-ahead. Returns a new (P, T - start, N) array.
    """
    w = np.asarray(weights, dtype=float)
    out = w[..., start:, :].copy()
    if start <= 0 or out.shape[-2] == 0:
        return out
    ordered = ~np.isnan(w[..., : start + 1, :]).all(axis=-1)  # (P, start + 1)
    last = start - np.argmax(ordered[..., ::-1], axis=-1)
    found = ordered.any(axis=-1)
    target = np.take_along_axis(w, last[..., None, None], axis=-2)[..., 0, :]
    out[..., 0, :] = np.where(found[..., None], np.nan_to_num(target, nan=0.0), np.nan)
    return out


def only_on_change(weights: np.ndarray) -> np.ndarray:
    """Replace every row equal to the previous row by NaN ("no order"), so positions drift instead of
    being rebalanced back to target every day. Uses only rows up to t, so it adds no look-ahead."""
    w = np.asarray(weights, dtype=float)
    cur, prev = w[..., 1:, :], w[..., :-1, :]
    # Row equality one symbol column at a time: numpy's reduce over a short last axis is slow.
    same = np.ones(cur.shape[:-1], dtype=bool)
    has_nan = bool(np.isnan(w).any())
    for i in range(w.shape[-1]):
        a, b = cur[..., i], prev[..., i]
        same &= ((a == b) | (np.isnan(a) & np.isnan(b))) if has_nan else (a == b)
    out = np.empty_like(w)
    out[..., :1, :] = w[..., :1, :]
    np.copyto(out[..., 1:, :], np.where(same[..., None], np.nan, cur))
    return out


def _as_param_array(value: float | np.ndarray | None, n_params: int) -> np.ndarray:
    if value is None:
        return np.full(n_params, np.nan)
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n_params,)).copy()
    if (arr[~np.isnan(arr)] <= 0).any():
        raise ValueError("stop levels must be positive fractions (0.05 = 5 %)")
    return arr


def _sum_last(values: np.ndarray) -> np.ndarray:
    """Sum over the last (symbol) axis; adding slices beats numpy's reduce on a short last axis."""
    if values.shape[-1] > 16:
        return values.sum(axis=-1)
    total = values[..., 0].copy()
    for i in range(1, values.shape[-1]):
        total += values[..., i]
    return total


def _prepare_weights(bars: Bars, weights: np.ndarray | pd.DataFrame, allow_short: bool) -> np.ndarray:
    if isinstance(weights, pd.DataFrame):
        frame = weights.reindex(index=bars.dates, columns=list(bars.symbols))
        w = frame.to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1:] != (bars.n_days, len(bars.symbols)):
        raise ValueError(f"weights shape {w.shape} does not match bars ({bars.n_days} days, {len(bars.symbols)} symbols)")
    if not allow_short and (w < 0).any():
        w = np.maximum(w, 0.0)  # keeps NaN ("no order")
    return w


def simulate(
    bars: Bars,
    weights: np.ndarray | pd.DataFrame,
    *,
    execution: Execution = "next_open",
    commission_bps: float = 0.0,
    slippage_bps: float = 0.0,
    borrow_bps: float = 0.0,
    allow_short: bool = True,
    stop_loss: float | np.ndarray | None = None,
    take_profit: float | np.ndarray | None = None,
    initial_cash: float = 1.0,
    method: Literal["auto", "vector", "loop"] = "auto",
) -> SimResult:
    """Simulate target weights (see the module docstring for timing, costs and stops).

    ``weights``: (T, N) DataFrame/array or (P, T, N) array of target weights decided at each day's close.
    ``stop_loss`` / ``take_profit``: None, a fraction, or one fraction per parameter set (NaN = off).
    ``method``: "auto" uses the vectorised path unless stops are on; "loop" forces the day loop (used to
    cross-check the two paths).
    """
    if execution not in ("next_open", "next_close"):
        raise ValueError(f"unknown execution {execution!r}")
    w = _prepare_weights(bars, weights, allow_short)
    n_params = w.shape[0]
    exec_open = execution == "next_open"
    raw_exec = bars.open if exec_open else bars.close

    # Shift by one day: the order decided at t's close executes on t + 1. A row of NaN is "no order";
    # NaN entries and symbols without a price at the execution bar become 0 (checked column by column:
    # numpy's reductions over a short last axis are slow).
    n_days = w.shape[1]
    missing = np.isnan(w[:, :-1])
    no_order = missing[..., 0].copy()
    for i in range(1, w.shape[2]):
        no_order &= missing[..., i]
    reb = np.ones((n_params, n_days), dtype=bool)  # day 0: start in cash
    reb[:, 1:] = ~no_order

    o, c = bars.filled_open, bars.filled_close
    rate = (commission_bps + slippage_bps) / 1e4
    bdaily = borrow_bps / 1e4 / TRADING_DAYS
    sl = _as_param_array(stop_loss, n_params)
    tp = _as_param_array(take_profit, n_params)
    stops_on = bool(np.isfinite(sl).any() or np.isfinite(tp).any())
    if method == "vector" and stops_on:
        raise ValueError("stops need the day loop (method='loop' or 'auto')")
    if method == "loop" or (method == "auto" and stops_on):
        wx = np.empty_like(w)
        wx[:, 0] = 0.0
        wx[:, 1:] = w[:, :-1]
        np.copyto(wx[:, 1:], 0.0, where=missing | np.isnan(raw_exec[1:])[None])
        arrays = simulate_loop(o, bars.high, bars.low, c, wx, reb, exec_open, rate, bdaily, initial_cash, sl, tp)
    else:
        # Only the rebalance rows' targets are ever read: build just those (R rows instead of P * T).
        rb_p, rb_t = np.nonzero(reb)
        rows = np.zeros((rb_p.size, w.shape[2]))
        later = rb_t > 0
        # One row gather on the flattened (P * T, N) array (faster than a two-array fancy index).
        picked = np.take(w.reshape(-1, w.shape[2]), rb_p[later] * n_days + rb_t[later] - 1, axis=0)
        rows[later] = np.where(np.isnan(picked) | np.isnan(raw_exec[rb_t[later]]), 0.0, picked)
        arrays = _simulate_vector(o, c, rows, rb_p, rb_t, reb, exec_open, rate, bdaily, initial_cash)
    return SimResult(dates=bars.dates, symbols=bars.symbols, close=c, exec_price=o if exec_open else c, **arrays)


def _simulate_vector(
    o: np.ndarray,
    c: np.ndarray,
    rows: np.ndarray,
    rb_p: np.ndarray,
    rb_t: np.ndarray,
    reb: np.ndarray,
    exec_open: bool,
    rate: float,
    bdaily: float,
    cash0: float,
) -> dict[str, np.ndarray]:
    """Returns-based accounting, exact (not an approximation of the loop).

    Between two rebalances a portfolio is buy-and-hold of fixed share counts, so per unit of the equity
    before the rebalance at day s, the equity at a later close t is
    ``sum_i w_i * C_t,i / X_s,i + cash_fraction_s - borrow_paid(s..t)``. Chaining segments multiplies
    these ratios. The only recursion is that trading costs at one rebalance change the cash fraction,
    which changes the drifted weights (and so the cost) at the next; it is a contraction with factor
    about cost_rate * leverage, solved by a few fixed-point passes over the whole array.
    """
    n_params, n_days = reb.shape
    n_sym = rows.shape[1]
    x = o if exec_open else c
    # ``rows[k]``: the target weights executed at rebalance (rb_p[k], rb_t[k]), in row-major order.
    # Shares per unit of pre-trade equity, computed on the rebalance rows only. Segments are contiguous in
    # row-major (p, t) order (reb[:, 0] is always set, so none crosses parameter sets): a segment's rows
    # are one ``np.repeat`` of its rebalance row. Few fresh (P, T) arrays: each costs page faults.
    ratio = rows / x[rb_t]  # (R, N)
    starts = rb_p * n_days + rb_t
    lengths = np.diff(np.append(starts, n_params * n_days))
    # Borrow per unit of segment equity, charged at each close.
    if bdaily:
        short_units = np.repeat(np.minimum(ratio, 0.0), lengths, axis=0).reshape(n_params, n_days, n_sym)
        bd = -bdaily * np.einsum("ptn,tn->pt", short_units, c)
    else:
        bd = np.zeros((n_params, n_days))
    if not exec_open:
        bd = np.where(reb, 0.0, bd)  # executed at this close: held for no time yet
    if bdaily:
        sidx = np.where(reb, np.arange(n_days), 0)  # (P, T) start of the segment
        np.maximum.accumulate(sidx, axis=1, out=sidx)
        cs = np.cumsum(bd, axis=1)
        bcum = cs - np.where(sidx > 0, np.take_along_axis(cs, np.maximum(sidx - 1, 0), axis=1), 0.0)
    else:
        bcum = None  # no borrow fee: the cumulative sums would all be +0.0, and x - 0.0 == x

    # Solve the cost recursion only on rebalance events (p, t >= 1): K rows instead of P * T. At each,
    # the segment active at t - 1 is valued at t's execution price.
    ev = rb_t > 0
    ev_p, ev_t = rb_p[ev], rb_t[ev]
    # The segment active at (p, t - 1) is the previous rebalance row (row-major order, same p).
    ev_prev = np.nonzero(ev)[0] - 1
    ev_prev_start = rb_t[ev_prev]
    ev_hx = ratio[ev_prev] * x[ev_t]
    ev_a = _sum_last(ev_hx)
    if bcum is not None:
        ev_a = ev_a - bcum[ev_p, ev_t - 1]
    old_borrow = np.zeros((n_params, n_days))
    if not exec_open:
        old_borrow[ev_p, ev_t] = -bdaily * _sum_last(np.minimum(ev_hx, 0.0))
        ev_a = ev_a - old_borrow[ev_p, ev_t]
    ev_w = rows[ev]
    # Cash fraction after each rebalance (only rebalance rows are ever read).
    sum_rows = _sum_last(rows)
    ev_sum_w = sum_rows[ev]
    cf_row = np.ones((n_params, n_days))
    cf_row[rb_p, rb_t] = 1.0 - sum_rows
    tau = np.zeros((n_params, n_days))
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(60):
            drift = ev_hx / (ev_a + cf_row[ev_p, ev_prev_start])[:, None]
            ev_tau = _sum_last(np.abs(ev_w - drift))
            previous = cf_row[ev_p, ev_t]
            cf_row[ev_p, ev_t] = 1.0 - ev_sum_w - rate * ev_tau
            delta = np.nanmax(np.abs(cf_row[ev_p, ev_t] - previous)) if ev_p.size else 0.0
            if rate == 0.0 or delta <= 1e-15:
                break
    if ev_p.size:
        tau[ev_p, ev_t] = ev_tau
    cf_cur = np.repeat(cf_row[rb_p, rb_t], lengths).reshape(n_params, n_days)
    growth = np.ones((n_params, n_days))
    growth[ev_p, ev_t] = ev_a + cf_row[ev_p, ev_prev_start]
    e_pre = np.cumprod(growth, axis=1, out=growth)  # at a rebalance day: equity before its trades
    e_pre *= cash0
    e_seg = np.repeat(e_pre[rb_p, rb_t], lengths).reshape(n_params, n_days)
    borrow = np.multiply(e_seg, bd, out=bd)
    if not exec_open:
        borrow[ev_p, ev_t] += e_seg[ev_p, ev_t - 1] * old_borrow[ev_p, ev_t]
    shares = np.repeat(ratio * e_pre[rb_p, rb_t][:, None], lengths, axis=0).reshape(n_params, n_days, n_sym)
    cash = cf_cur if bcum is None else np.subtract(cf_cur, bcum, out=cf_cur)
    cash *= e_seg
    equity = np.einsum("ptn,tn->pt", shares, c)
    equity += cash
    costs = rate * tau
    costs *= e_pre
    return {
        "equity": equity,
        "cash": cash,
        "shares": shares,
        "turnover": tau,
        "costs": costs,
        "borrow": borrow,
        "stop_events": np.zeros((n_params, n_days, n_sym), dtype=np.int8),
    }
