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

Execution = Literal["next_open", "next_close"]
TRADING_DAYS = 252

#: Stop event codes in ``SimResult.stop_events``.
STOP_LOSS = 1
TAKE_PROFIT = 2


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
        return np.abs(self.holdings).sum(axis=2) / self.equity

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


def only_on_change(weights: np.ndarray) -> np.ndarray:
    """Replace every row equal to the previous row by NaN ("no order"), so positions drift instead of
    being rebalanced back to target every day. Uses only rows up to t, so it adds no look-ahead."""
    w = np.asarray(weights, dtype=float)
    out = w.copy()
    prev = w[..., :-1, :]
    same = ((w[..., 1:, :] == prev) | (np.isnan(w[..., 1:, :]) & np.isnan(prev))).all(axis=-1)
    out[..., 1:, :][same] = np.nan
    return out


def _ffill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along axis 0; leading NaN become 1.0 (a placeholder price for never-held symbols)."""
    idx = np.where(np.isnan(values), 0, np.arange(values.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = np.take_along_axis(values, idx, axis=0)
    return np.where(np.isnan(filled), 1.0, filled)


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
    if not allow_short:
        w = np.where(w < 0, 0.0, w)
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

    # Shift by one day: the order decided at t's close executes on t + 1.
    wx = np.full_like(w, np.nan)
    wx[:, 1:] = w[:, :-1]
    reb = ~np.isnan(wx).all(axis=2)
    wx = np.where(np.isnan(wx) | np.isnan(raw_exec)[None], 0.0, wx)
    reb[:, 0] = True  # day 0: start in cash
    wx[:, 0] = 0.0

    o = _ffill(bars.open)
    c = _ffill(bars.close)
    rate = (commission_bps + slippage_bps) / 1e4
    bdaily = borrow_bps / 1e4 / TRADING_DAYS
    sl = _as_param_array(stop_loss, n_params)
    tp = _as_param_array(take_profit, n_params)
    stops_on = bool(np.isfinite(sl).any() or np.isfinite(tp).any())
    if method == "vector" and stops_on:
        raise ValueError("stops need the day loop (method='loop' or 'auto')")
    if method == "loop" or (method == "auto" and stops_on):
        arrays = _simulate_loop(o, bars.high, bars.low, c, wx, reb, exec_open, rate, bdaily, initial_cash, sl, tp)
    else:
        arrays = _simulate_vector(o, c, wx, reb, exec_open, rate, bdaily, initial_cash)
    return SimResult(dates=bars.dates, symbols=bars.symbols, close=c, **arrays)


def _simulate_vector(
    o: np.ndarray,
    c: np.ndarray,
    wx: np.ndarray,
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
    n_params, n_days, _ = wx.shape
    x = o if exec_open else c
    sidx = np.maximum.accumulate(np.where(reb, np.arange(n_days), 0), axis=1)  # (P, T) start of segment
    pix = np.arange(n_params)[:, None]
    u = wx[pix, sidx] / x[sidx]  # (P, T, N) shares per unit of pre-trade equity
    hold_c = _sum_last(u * c[None])
    # Borrow per unit of segment equity, charged at each close.
    bd = -bdaily * _sum_last(np.minimum(u, 0.0) * c[None]) if bdaily else np.zeros((n_params, n_days))
    if not exec_open:
        bd = np.where(reb, 0.0, bd)  # executed at this close: held for no time yet
    cs = np.cumsum(bd, axis=1)
    bcum = cs - np.where(sidx > 0, np.take_along_axis(cs, np.maximum(sidx - 1, 0), axis=1), 0.0)

    # The segment active at t - 1, valued at t's execution price (only used where t rebalances).
    hx = u[:, :-1] * x[None, 1:]
    a = _sum_last(hx) - bcum[:, :-1]
    old_borrow = np.zeros((n_params, n_days))
    if not exec_open:
        old_borrow[:, 1:] = -bdaily * _sum_last(np.minimum(hx, 0.0))
        a = a - old_borrow[:, 1:]
    sum_w = _sum_last(wx)
    # Solve the cost recursion only on rebalance events (p, t >= 1): K rows instead of P * T.
    ev_p, ev_t = np.nonzero(reb[:, 1:])
    ev_t = ev_t + 1
    ev_prev_start = sidx[ev_p, ev_t - 1]
    ev_hx = hx[ev_p, ev_t - 1]
    ev_a = a[ev_p, ev_t - 1]
    ev_w = wx[ev_p, ev_t]
    cf_row = 1.0 - sum_w
    tau = np.zeros((n_params, n_days))
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(60):
            drift = ev_hx / (ev_a + cf_row[ev_p, ev_prev_start])[:, None]
            ev_tau = _sum_last(np.abs(ev_w - drift))
            previous = cf_row[ev_p, ev_t]
            cf_row[ev_p, ev_t] = 1.0 - sum_w[ev_p, ev_t] - rate * ev_tau
            delta = np.nanmax(np.abs(cf_row[ev_p, ev_t] - previous)) if ev_p.size else 0.0
            if rate == 0.0 or delta <= 1e-15:
                break
    if ev_p.size:
        tau[ev_p, ev_t] = ev_tau
    cf_cur = np.take_along_axis(cf_row, sidx, axis=1)
    growth = np.ones((n_params, n_days))
    growth[ev_p, ev_t] = ev_a + cf_row[ev_p, ev_prev_start]
    e_pre = cash0 * np.cumprod(growth, axis=1)  # at a rebalance day: equity before its trades
    e_seg = np.take_along_axis(e_pre, sidx, axis=1)
    borrow = e_seg * bd
    if not exec_open:
        borrow[ev_p, ev_t] += e_seg[ev_p, ev_t - 1] * old_borrow[ev_p, ev_t]
    return {
        "equity": e_seg * (hold_c + cf_cur - bcum),
        "cash": e_seg * (cf_cur - bcum),
        "shares": e_seg[..., None] * u,
        "turnover": tau,
        "costs": rate * tau * e_pre,
        "borrow": borrow,
        "stop_events": np.zeros(wx.shape, dtype=np.int8),
    }


def _simulate_loop(
    o: np.ndarray,
    h: np.ndarray,
    lo: np.ndarray,
    c: np.ndarray,
    wx: np.ndarray,
    reb: np.ndarray,
    exec_open: bool,
    rate: float,
    bdaily: float,
    cash0: float,
    sl: np.ndarray,
    tp: np.ndarray,
) -> dict[str, np.ndarray]:
    """Share-by-share accounting, one day at a time, vectorised over parameter sets and symbols."""
    n_params, n_days, n_sym = wx.shape
    shares = np.zeros((n_params, n_sym))
    cash = np.full(n_params, float(cash0))
    entry = np.full((n_params, n_sym), np.nan)
    entry_bar = np.zeros((n_params, n_sym), dtype=np.int64)
    last_target = np.zeros((n_params, n_sym))
    blocked = np.zeros((n_params, n_sym), dtype=bool)
    block_target = np.zeros((n_params, n_sym))
    sl_, tp_ = sl[:, None], tp[:, None]
    stops_on = bool(np.isfinite(sl).any() or np.isfinite(tp).any())

    out_eq = np.empty((n_params, n_days))
    out_cash = np.empty((n_params, n_days))
    out_sh = np.empty((n_params, n_days, n_sym))
    out_turn = np.zeros((n_params, n_days))
    out_cost = np.zeros((n_params, n_days))
    out_borrow = np.zeros((n_params, n_days))
    out_stop = np.zeros((n_params, n_days, n_sym), dtype=np.int8)

    def rebalance(t: int, px: np.ndarray) -> None:
        nonlocal shares, cash, entry, entry_bar, blocked
        r = reb[:, t]
        if not r.any():
            return
        target = wx[:, t]
        blocked = blocked & ~(r[:, None] & (target != block_target))
        eff = np.where(blocked, 0.0, target)
        e_pre = cash + (shares * px).sum(axis=1)
        new = np.where(r[:, None], eff * e_pre[:, None] / px, shares)
        trade = new - shares
        notional = np.abs(trade * px).sum(axis=1)
        cash = cash - (trade * px).sum(axis=1) - rate * notional
        out_turn[:, t] = np.where(r, notional / e_pre, 0.0)
        out_cost[:, t] += rate * notional
        opened = (new != 0) & (np.sign(new) != np.sign(shares))
        added = (new != 0) & (np.sign(new) == np.sign(shares)) & (np.abs(new) > np.abs(shares))
        with np.errstate(divide="ignore", invalid="ignore"):
            avg = (shares * entry + trade * px) / new
        entry = np.where(opened, px, np.where(added, avg, np.where(new == 0, np.nan, entry)))
        entry_bar = np.where(opened, t, entry_bar)
        last_target[r] = target[r]
        shares = new

    def stops(t: int) -> None:
        nonlocal shares, cash, blocked, block_target
        held = (shares != 0) & (entry_bar < t)
        if not held.any():
            return
        long = shares > 0
        ot, ht, lt = o[t], h[t], lo[t]
        sl_px = np.where(long, entry * (1 - sl_), entry * (1 + sl_))
        tp_px = np.where(long, entry * (1 + tp_), entry * (1 - tp_))
        hit_sl = held & np.where(long, lt <= sl_px, ht >= sl_px)
        hit_tp = held & ~hit_sl & np.where(long, ht >= tp_px, lt <= tp_px)
        fill_sl = np.where(long, np.minimum(ot, sl_px), np.maximum(ot, sl_px))
        fill_tp = np.where(long, np.maximum(ot, tp_px), np.minimum(ot, tp_px))
        fill = np.where(hit_sl, fill_sl, np.where(hit_tp, fill_tp, 0.0))
        exit_ = hit_sl | hit_tp
        if not exit_.any():
            return
        value = np.where(exit_, shares * fill, 0.0)
        notional = np.abs(value).sum(axis=1)
        cash = cash + value.sum(axis=1) - rate * notional
        out_cost[:, t] += rate * notional
        out_stop[:, t] = np.where(hit_sl, STOP_LOSS, np.where(hit_tp, TAKE_PROFIT, 0))
        shares = np.where(exit_, 0.0, shares)
        blocked = blocked | exit_
        block_target = np.where(exit_, last_target, block_target)

    def charge_borrow(t: int) -> None:
        nonlocal cash
        fee = -bdaily * np.minimum(shares * c[t], 0.0).sum(axis=1)
        cash = cash - fee
        out_borrow[:, t] += fee

    for t in range(n_days):
        if exec_open:
            rebalance(t, o[t])
            if stops_on:
                stops(t)
            charge_borrow(t)
        else:
            if stops_on:
                stops(t)
            charge_borrow(t)
            rebalance(t, c[t])
        out_sh[:, t] = shares
        out_cash[:, t] = cash
        out_eq[:, t] = cash + (shares * c[t]).sum(axis=1)
    return {
        "equity": out_eq,
        "cash": out_cash,
        "shares": out_sh,
        "turnover": out_turn,
        "costs": out_cost,
        "borrow": out_borrow,
        "stop_events": out_stop,
    }
