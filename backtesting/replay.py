"""The QuantAI recommendation engine replayed: "what if I had followed every recommendation since DATE".

No Django. Each day after the close, for each of the five stocks, the engine's own sizing
(:func:`recommendations.sizing.size_positions`) decides BUY / SELL / HOLD and a share count from:

- the walk-forward model's calibrated P(up) and payoff ratio of that day (:mod:`backtesting.walkforward`;
  never a model that saw the day);
- the stock's daily volatility over the last :data:`recommendations.conditions.SIZING_VOL_WINDOW` log
  returns (as :func:`recommendations.conditions.daily_volatility` measures it, closes up to the day);
- the replayed portfolio's state at that close (cash, cash reserved for shorts, shares held, the VaR of the
  other positions), valued like ``recommendations.selectors.portfolio_states``;
- the risk profile's limits from :mod:`accounts.profiles` (Kelly fraction, position cap, 1-day VaR budget,
  shorting only where the profile allows it) and its action thresholds.

As in ``recommendations.services.generate``, every symbol of a day is sized against the same state. The
recommendations are all accepted and filled on the next bar (open or close, like every system) with the
backtest's costs: sales first, then purchases, each purchase limited to the cash then available (the
ledger refuses a purchase it cannot pay for). A short sale adds its proceeds to cash and reserves
``SHORT_RESERVE`` times its cost, as the ledger does. Optional stop-loss and take-profit levels (fractions
of the average entry price) close a position during a later bar, filled like the engine's stops; the next
recommendations may open it again. Vectorised over parameter sets (one risk profile and stop levels each).

Money: the replay trades ``capital`` dollars (share counts are floored to 4 decimals like the engine's),
and reports equity, cash and shares divided by it, so curves start at 1 like every other system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from backtesting.engine.core import STOP_LOSS, TAKE_PROFIT, TRADING_DAYS, Execution, SimResult
from backtesting.engine.data import Bars

DEFAULT_CAPITAL = 100_000.0


@dataclass(frozen=True)
class ReplayProfiles:
    """Per parameter set (arrays of length P): the profile's name and limits, and the stop levels (NaN = off)."""

    names: list[str]
    kelly_fraction: np.ndarray
    max_weight: np.ndarray
    var_budget: np.ndarray
    buy_threshold: np.ndarray
    sell_threshold: np.ndarray
    allow_short: np.ndarray
    stop_loss: np.ndarray
    take_profit: np.ndarray

    @classmethod
    def build(
        cls, names: list[str], *, stop_loss: np.ndarray | list[float], take_profit: np.ndarray | list[float], shorts: bool = True
    ) -> ReplayProfiles:
        """From profile names (``accounts.profiles.PROFILES`` keys); ``shorts=False`` forbids shorting to all."""
        from accounts.profiles import profile_for
        from recommendations.sizing import thresholds_for

        profiles = [profile_for(name) for name in names]
        buy, sell = thresholds_for(names)
        return cls(
            names=list(names),
            kelly_fraction=np.array([float(p.kelly_fraction) for p in profiles]),
            max_weight=np.array([float(p.max_position_weight) for p in profiles]),
            var_budget=np.array([float(p.var_budget_1d_95) for p in profiles]),
            buy_threshold=buy,
            sell_threshold=sell,
            allow_short=np.array([p.allows_shorting and shorts for p in profiles], dtype=bool),
            stop_loss=np.where(np.asarray(stop_loss, dtype=float) > 0, np.asarray(stop_loss, dtype=float), np.nan),
            take_profit=np.where(np.asarray(take_profit, dtype=float) > 0, np.asarray(take_profit, dtype=float), np.nan),
        )


def daily_volatility(close: np.ndarray) -> np.ndarray:
    """(T, N) std (ddof 1) of the last ``SIZING_VOL_WINDOW`` daily log returns up to each day, NaN with fewer
    than 10 returns: :func:`recommendations.conditions.daily_volatility` for every day at once."""
    from recommendations.conditions import SIZING_VOL_WINDOW

    log_ret = pd.DataFrame(np.log(close)).diff()
    return log_ret.rolling(SIZING_VOL_WINDOW, min_periods=10).std(ddof=1).to_numpy()


def replay(
    stocks: Bars,
    p_up: np.ndarray,
    payoff: np.ndarray,
    profiles: ReplayProfiles,
    *,
    execution: Execution = "next_open",
    commission_bps: float = 0.0,
    slippage_bps: float = 0.0,
    borrow_bps: float = 0.0,
    capital: float = DEFAULT_CAPITAL,
    start: int = 0,
) -> tuple[SimResult, dict[str, Any]]:
    """Replay the engine over ``stocks`` with model ``p_up`` / ``payoff`` (T, N) for each profile set.

    Rows before ``start`` are history: they warm up the volatility estimate and are never traded; the
    replay starts in cash at the close of row ``start``. Returns the simulation of rows ``start:``
    (normalised to a start of 1) and the count of filled orders per side per set.
    """
    from portfolios.ledger import SHORT_RESERVE
    from recommendations import sizing

    sigma = daily_volatility(stocks.close)[start:]
    if start:
        stocks, p_up, payoff = stocks.rows(start), np.asarray(p_up)[start:], np.asarray(payoff)[start:]
    n_days, n_sym = stocks.n_days, len(stocks.symbols)
    n_params = len(profiles.names)
    exec_open = execution == "next_open"
    o, c = stocks.filled_open, stocks.filled_close
    hi, lo = stocks.high, stocks.low
    listed = ~np.isnan(stocks.close)
    rate = (commission_bps + slippage_bps) / 1e4
    bdaily = borrow_bps / 1e4 / TRADING_DAYS
    reserve = float(SHORT_RESERVE)
    sl, tp = profiles.stop_loss[:, None], profiles.take_profit[:, None]
    stops_on = bool(np.isfinite(profiles.stop_loss).any() or np.isfinite(profiles.take_profit).any())

    long_ = np.zeros((n_params, n_sym))
    short = np.zeros((n_params, n_sym))
    short_cost = np.zeros((n_params, n_sym))  # average short price (for the reserve)
    entry = np.full((n_params, n_sym), np.nan)
    entry_bar = np.zeros((n_params, n_sym), dtype=np.int64)
    cash = np.full(n_params, float(capital))
    pending = np.zeros((4, n_params, n_sym))  # shares to BUY, SELL, SHORT, COVER on the next bar
    filled = {side: np.zeros(n_params, dtype=np.int64) for side in ("BUY", "SELL", "SHORT", "COVER")}

    out: dict[str, np.ndarray] = {
        "equity": np.empty((n_params, n_days)),
        "cash": np.empty((n_params, n_days)),
        "shares": np.empty((n_params, n_days, n_sym)),
        "turnover": np.zeros((n_params, n_days)),
        "costs": np.zeros((n_params, n_days)),
        "borrow": np.zeros((n_params, n_days)),
        "stop_events": np.zeros((n_params, n_days, n_sym), dtype=np.int8),
        "trade_cash": np.zeros((n_params, n_days, n_sym)),
        "trade_costs": np.zeros((n_params, n_days, n_sym)),
    }

    def execute(t: int, px: np.ndarray) -> None:
        nonlocal cash
        if not pending.any():
            return
        e_pre = cash + ((long_ - short) * px).sum(axis=1)
        notional = np.zeros(n_params)
        ok = listed[t][None]
        sell = np.where(ok, np.minimum(pending[1], long_), 0.0)
        new_short = np.where(ok, pending[2], 0.0)
        flow = sell * px + new_short * px
        long_[:] -= sell
        with np.errstate(divide="ignore", invalid="ignore"):
            short_cost[:] = np.where(new_short > 0, (short * short_cost + new_short * px) / (short + new_short), short_cost)
        opened_short = (new_short > 0) & (short == 0)
        short[:] += new_short
        entry[:] = np.where(new_short > 0, short_cost, entry)
        entry_bar[:] = np.where(opened_short, t, entry_bar)
        cash = cash + flow.sum(axis=1) - rate * np.abs(flow).sum(axis=1)
        notional += np.abs(flow).sum(axis=1)
        out["trade_cash"][:, t] += flow
        out["trade_costs"][:, t] += rate * np.abs(flow)
        filled["SELL"] += (sell > 0).sum(axis=1)
        filled["SHORT"] += (new_short > 0).sum(axis=1)
        # Covers and purchases spend cash, one symbol at a time, never more than is available.
        for side, target in ((3, short), (0, long_)):
            for j in range(n_sym):
                want = np.where(ok[0, j], pending[side, :, j], 0.0)
                if side == 3:
                    want = np.minimum(want, short[:, j])
                available = (
                    cash - reserve * (short * short_cost).sum(axis=1) + (reserve * want * short_cost[:, j] if side == 3 else 0)
                )
                can = np.maximum(available, 0.0) / (px[j] * (1.0 + rate))
                # The sized count when affordable; else what the cash buys, floored like the engine's counts.
                qty = np.minimum(want, sizing.floor_shares(can) if side == 0 else can)
                if not (qty > 0).any():
                    continue
                cash = cash - qty * px[j] * (1.0 + rate)
                notional += qty * px[j]
                out["trade_cash"][:, t, j] -= qty * px[j]
                out["trade_costs"][:, t, j] += rate * qty * px[j]
                if side == 0:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        avg = (long_[:, j] * np.nan_to_num(entry[:, j]) + qty * px[j]) / (long_[:, j] + qty)
                    opened = (qty > 0) & (long_[:, j] == 0)
                    entry[:, j] = np.where(qty > 0, avg, entry[:, j])
                    entry_bar[:, j] = np.where(opened, t, entry_bar[:, j])
                    filled["BUY"] += qty > 0
                else:
                    filled["COVER"] += qty > 0
                target[:, j] -= qty if side == 3 else -qty
        flat = (long_ <= 0) & (short <= 0)
        entry[flat] = np.nan
        short_cost[short <= 0] = 0.0
        out["costs"][:, t] += rate * notional
        out["turnover"][:, t] = np.where(e_pre > 0, notional / e_pre, 0.0)
        pending[:] = 0.0

    def stops(t: int) -> None:
        nonlocal cash
        held_long = (long_ > 0) & (entry_bar < t)
        held_short = (short > 0) & (entry_bar < t)
        if not (held_long.any() or held_short.any()):
            return
        ot, ht, lt = o[t], hi[t], lo[t]
        l_sl, l_tp = entry * (1 - sl), entry * (1 + tp)
        s_sl, s_tp = entry * (1 + sl), entry * (1 - tp)
        hit_l_sl = held_long & (lt <= l_sl)
        hit_l_tp = held_long & ~hit_l_sl & (ht >= l_tp)
        hit_s_sl = held_short & (ht >= s_sl)
        hit_s_tp = held_short & ~hit_s_sl & (lt <= s_tp)
        px = np.where(
            hit_l_sl,
            np.minimum(ot, l_sl),
            np.where(hit_l_tp, np.maximum(ot, l_tp), np.where(hit_s_sl, np.maximum(ot, s_sl), np.minimum(ot, s_tp))),
        )
        exit_long, exit_short = hit_l_sl | hit_l_tp, hit_s_sl | hit_s_tp
        flow = np.where(exit_long, long_ * px, 0.0) - np.where(exit_short, short * px, 0.0)
        if not (exit_long | exit_short).any():
            return
        cash = cash + flow.sum(axis=1) - rate * np.abs(flow).sum(axis=1)
        out["costs"][:, t] += rate * np.abs(flow).sum(axis=1)
        out["trade_cash"][:, t] += flow
        out["trade_costs"][:, t] += rate * np.abs(flow)
        out["stop_events"][:, t] = np.where(hit_l_sl | hit_s_sl, STOP_LOSS, np.where(hit_l_tp | hit_s_tp, TAKE_PROFIT, 0))
        long_[exit_long] = 0.0
        short[exit_short] = 0.0
        short_cost[exit_short] = 0.0
        entry[exit_long | exit_short] = np.nan

    def decide(t: int) -> None:
        price = c[t]
        equity = cash + ((long_ - short) * price).sum(axis=1)
        available = cash - reserve * (short * short_cost).sum(axis=1)
        sig_t = sigma[t]
        known = sig_t[np.isfinite(sig_t)]
        fallback = float(known.max()) if known.size else 0.0
        var_pos = sizing.Z_95 * np.where(np.isfinite(sig_t), sig_t, fallback) * (long_ + short) * price
        var_total = var_pos.sum(axis=1)
        for j in range(n_sym):
            if not (listed[t, j] and np.isfinite(p_up[t, j]) and np.isfinite(sig_t[j])):
                continue
            if not ((p_up[t, j] >= profiles.buy_threshold) | (p_up[t, j] <= profiles.sell_threshold)).any():
                continue  # between every profile's thresholds: the sizing says HOLD to all, nothing to order
            accounts = sizing.Accounts(
                equity=equity,
                cash=cash,
                available_cash=available,
                held_long=long_[:, j].copy(),
                held_short=short[:, j].copy(),
                other_var=var_total - var_pos[:, j],
                kelly_fraction=profiles.kelly_fraction,
                max_weight=profiles.max_weight,
                var_budget=profiles.var_budget,
                buy_threshold=profiles.buy_threshold,
                sell_threshold=profiles.sell_threshold,
                allow_short=profiles.allow_short,
            )
            market = sizing.Market(
                price=float(price[j]),
                sigma_1d=float(sig_t[j]),
                p_up=float(p_up[t, j]),
                payoff_ratio=float(payoff[t, j]),
                short_reserve=reserve,
            )
            sized = sizing.size_positions(accounts, market)
            for k, side in enumerate((sizing.SIDE_BUY, sizing.SIDE_SELL, sizing.SIDE_SHORT, sizing.SIDE_COVER)):
                pending[k, :, j] = np.where(sized.side == side, sized.shares, 0.0)

    for t in range(n_days):
        if exec_open:
            execute(t, o[t])
            if stops_on:
                stops(t)
        else:
            if stops_on:
                stops(t)
            execute(t, c[t])
        if bdaily:
            fee = bdaily * (short * c[t]).sum(axis=1)
            cash = cash - fee
            out["borrow"][:, t] = fee
        if t < n_days - 1:
            decide(t)
        out["shares"][:, t] = long_ - short
        out["cash"][:, t] = cash
        out["equity"][:, t] = cash + ((long_ - short) * c[t]).sum(axis=1)

    scale = 1.0 / capital
    arrays = {k: (v if k in ("turnover", "stop_events") else v * scale) for k, v in out.items()}
    result = SimResult(dates=stocks.dates, symbols=stocks.symbols, close=c, exec_price=o if exec_open else c, **arrays)
    return result, {side: counts.tolist() for side, counts in filled.items()}
