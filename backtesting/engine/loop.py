"""The engine's day loop: share-by-share accounting with stop-loss and take-profit exits (see
:mod:`backtesting.engine.core` for the timing, cost and stop rules; ``simulate`` picks this path when stops
are on, and the tests run it beside the vectorised path to cross-check both)."""

from __future__ import annotations

import numpy as np

#: Stop event codes in ``SimResult.stop_events``.
STOP_LOSS = 1
TAKE_PROFIT = 2


def simulate_loop(
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
    out_flow = np.zeros((n_params, n_days, n_sym))
    out_symcost = np.zeros((n_params, n_days, n_sym))

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
        out_flow[:, t] -= trade * px
        out_symcost[:, t] += rate * np.abs(trade * px)
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
        out_flow[:, t] += value
        out_symcost[:, t] += rate * np.abs(value)
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
        "trade_cash": out_flow,
        "trade_costs": out_symcost,
    }
