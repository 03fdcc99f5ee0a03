"""Trade-level statistics: closed round trips, their win rate and profit factor.

A *round trip* in one symbol starts on the day a position is opened from flat (or flipped from long to
short or back) and ends on the day it is flat again (or flipped). Everything traded in between (adding
to or trimming the position, rebalancing it back to its weight) belongs to that trip. Its P&L is the
cash of all its trades (sales +, purchases -) minus their commission and slippage; a trip still open at
the end of the data is not counted (closed trips only). On a flip, the day's trade is split at its
average price into the part that closes the old position and the part that opens the new one.

Inputs are one parameter set's end-of-day shares (T, N) and each day's cash from trades before costs
(T, N), as :meth:`backtesting.engine.core.SimResult.flows` gives them. A day with both a stop exit and a
re-entry in the same symbol (possible only with ``next_close`` execution) is seen as one trip.
"""

from __future__ import annotations

import numpy as np

TRADE_METRIC_NAMES = ("trades", "trade_win_rate", "trade_profit_factor", "trade_avg_return")


def round_trips(
    shares: np.ndarray, flows: np.ndarray, *, costs: np.ndarray | None = None, cost_rate: float = 0.0
) -> dict[str, np.ndarray]:
    """Closed round trips of one parameter set: P&L (money), return on the opening notional, symbol index,
    and the day indices they opened and closed on, each a 1-D array with one entry per trip.

    ``costs`` (T, N): each day's commission and slippage per symbol (:meth:`SimResult.symbol_costs`); without
    it they are ``cost_rate * |flows|``.
    """
    shares = np.asarray(shares, dtype=float)
    flows = np.asarray(flows, dtype=float)
    costs = cost_rate * np.abs(flows) if costs is None else np.asarray(costs, dtype=float)
    pnl: list[float] = []
    ret: list[float] = []
    sym: list[int] = []
    opened: list[int] = []
    closed: list[int] = []
    prev = np.vstack([np.zeros((1, shares.shape[1])), shares[:-1]])
    for i in range(shares.shape[1]):
        days = np.flatnonzero(shares[:, i] != prev[:, i])
        acc = 0.0  # cash of the open trip so far, costs deducted
        basis = 0.0  # money paid (or received, for a short) when it opened
        start = -1
        for t in days:
            old, new, flow, cost = prev[t, i], shares[t, i], flows[t, i], costs[t, i]
            if old != 0 and (new == 0 or np.sign(new) != np.sign(old)):
                # Closes the trip (a flip also opens the next one at the same average price; the day's
                # costs are shared in proportion to the shares of each part).
                price = -flow / (new - old)
                close_flow = old * price
                close_share = abs(old) / (abs(old) + abs(new))
                acc += close_flow - cost * close_share
                pnl.append(acc)
                ret.append(acc / basis if basis > 0 else np.nan)
                sym.append(i)
                opened.append(start)
                closed.append(int(t))
                acc, basis, start = 0.0, 0.0, -1
                if new != 0:
                    open_flow = -new * price
                    acc = open_flow - cost * (1.0 - close_share)
                    basis, start = abs(open_flow), int(t)
            elif old == 0:
                acc, basis, start = flow - cost, abs(flow), int(t)
            else:
                acc += flow - cost
    return {
        "pnl": np.asarray(pnl, dtype=float),
        "return": np.asarray(ret, dtype=float),
        "symbol": np.asarray(sym, dtype=np.int64),
        "opened": np.asarray(opened, dtype=np.int64),
        "closed": np.asarray(closed, dtype=np.int64),
    }


def trade_metrics(pnl: np.ndarray, returns: np.ndarray | None = None) -> dict[str, float]:
    """Count, win rate (share of closed trips with P&L > 0), profit factor (sum of winning P&L / sum of
    losing P&L; inf without a loss) and mean return per trip. NaN where there is no closed trip."""
    pnl = np.asarray(pnl, dtype=float)
    n = pnl.size
    if n == 0:
        return {"trades": 0.0, "trade_win_rate": np.nan, "trade_profit_factor": np.nan, "trade_avg_return": np.nan}
    gains, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    avg = float(np.nanmean(returns)) if returns is not None and np.isfinite(returns).any() else np.nan
    return {
        "trades": float(n),
        "trade_win_rate": float((pnl > 0).mean()),
        "trade_profit_factor": float(gains / losses) if losses > 0 else (np.inf if gains > 0 else np.nan),
        "trade_avg_return": avg,
    }
