"""The risk-first policy: a target weight per symbol and day. Pure numpy/pandas: no Django, no I/O.

Given closes and volatility forecasts up to day ``t`` (and, optionally, the direction model's P(up) with its
demonstrated skill), :func:`target_weights` decides the share of portfolio value each symbol should have after
the close of ``t``; the engine then recommends the trade from today's holding to that target. Row ``t`` of every
output depends on rows ``<= t`` of the inputs only (tests prove it by truncation).

Steps, per day (all weights are fractions of portfolio value, long only, cash is the remainder):

1. **Risk budget** (inverse volatility): each symbol's raw weight is ``1 / sigma_i`` (its forecast annualised
   volatility), so each position carries about the same risk.
2. **Trend/regime filter**: each raw weight is multiplied by the symbol's trend score, the average of three
   votes: close above its ``fast_ma``-day average, close above its ``slow_ma``-day average, and a positive
   ``momentum``-day return (time-series momentum). 0, 1/3, 2/3 or 1: a stock in a downtrend is held less or not at
   all. With a short history only the votes it allows count (none before ``fast_ma`` sessions: no position).
3. **Volatility target**: the weights are scaled so that the portfolio's forecast volatility (forecast
   volatilities, correlations of the last ``corr_window`` days) equals the profile's ``target_vol``; no symbol
   above ``max_weight``; the sum at most ``max_gross`` (no leverage). Weight that a cap removes is given to the
   uncapped symbols (water filling) while the target allows it.
4. **Drawdown brake**: when the policy's own model portfolio (these targets followed at the close) is more than
   ``brake_start`` below its peak, every weight is scaled down linearly, to ``brake_floor`` at ``brake_full``.
5. **Model tilt** (optional): the direction model moves each weight by ``tilt * skill * (2 p - 1)`` of itself,
   where ``skill`` in [0, 1] is its demonstrated out-of-fold skill on that symbol (``2 * (AUC - 0.5)``, floored
   at 0). Zero skill, zero tilt. The tilt's increase is bounded by the profile's fraction of the Kelly bet.

Every hyperparameter below (:data:`DEFAULT_PARAMS`, :data:`PROFILE_TARGETS`) was chosen on 2008-2015 of the
development prices and frozen before 2016-2023 was looked at (see ``policy_report``'s README section).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

TRADING_DAYS = 252


@dataclass(frozen=True)
class PolicyParams:
    """Hyperparameters of the policy (frozen: chosen on 2008-2015 only). Fractions, sessions, annualised vols."""

    target_vol: float = 0.15
    max_weight: float = 0.20
    max_gross: float = 1.0
    fast_ma: int = 50
    slow_ma: int = 200
    momentum: int = 126
    corr_window: int = 126
    brake_start: float = 0.10
    brake_full: float = 0.25
    brake_floor: float = 0.25
    tilt: float = 1.0
    kelly_fraction: float = 0.5
    #: Trades smaller than this share of portfolio value are not worth their costs: HOLD instead.
    min_trade: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.target_vol < 2 or not 0 < self.max_weight <= 1 or not 0 < self.max_gross <= 1:
            raise ValueError("target_vol, max_weight and max_gross must be positive fractions")
        if not 0 <= self.brake_start < self.brake_full or not 0 <= self.brake_floor <= 1:
            raise ValueError("need 0 <= brake_start < brake_full and 0 <= brake_floor <= 1")


#: Each profile's target portfolio volatility (a year) and per-position cap. The caps are the accounts app's
#: ``max_position_weight`` (repeated by the tests' check, never changed here alone).
PROFILE_TARGETS: dict[str, dict[str, float]] = {
    "Conservative": {"target_vol": 0.10, "max_weight": 0.10, "kelly_fraction": 0.25, "min_trade": 0.025},
    "Moderate": {"target_vol": 0.15, "max_weight": 0.20, "kelly_fraction": 0.50, "min_trade": 0.05},
    "Aggressive": {"target_vol": 0.22, "max_weight": 0.30, "kelly_fraction": 0.75, "min_trade": 0.075},
}

DEFAULT_PARAMS = PolicyParams()


def params_for(profile: str, base: PolicyParams = DEFAULT_PARAMS) -> PolicyParams:
    """The frozen parameters with the profile's target volatility, cap and Kelly fraction."""
    try:
        overrides: dict[str, Any] = dict(PROFILE_TARGETS[profile])
    except KeyError:
        raise ValueError(f"unknown risk profile {profile!r}") from None
    return replace(base, **overrides)


@dataclass
class Targets:
    """What :func:`target_weights` decided, one row per day, one column per symbol (weights are fractions).

    ``trend``: the trend score (0..1); ``base``: weights after the volatility target and caps, before the brake
    and the tilt; ``brake``: the brake's multiplier per day; ``tilt``: the model tilt's relative change;
    ``weights``: the final targets; ``portfolio_vol``: the forecast volatility of ``weights``.
    """

    weights: pd.DataFrame
    base: pd.DataFrame
    trend: pd.DataFrame
    volatility: pd.DataFrame
    brake: pd.Series
    drawdown: pd.Series
    tilt: pd.DataFrame
    portfolio_vol: pd.Series
    params: PolicyParams = field(default_factory=PolicyParams)


def trend_scores(close: pd.DataFrame, params: PolicyParams) -> pd.DataFrame:
    """Average of the trend votes (see step 2) that the history allows; NaN before ``fast_ma`` sessions.

    A symbol with a short history (a recent listing, a young database) is judged on the votes it has: its
    ``fast_ma`` average first, then the ``momentum`` return and the ``slow_ma`` average as they become available.
    """
    close = close.astype(float)
    votes, known = [], []
    for window, vote in (
        (params.fast_ma, lambda: close > close.rolling(params.fast_ma, min_periods=params.fast_ma).mean()),
        (params.slow_ma, lambda: close > close.rolling(params.slow_ma, min_periods=params.slow_ma).mean()),
        (params.momentum + 1, lambda: close.pct_change(params.momentum, fill_method=None) > 0),
    ):
        have = close.rolling(window, min_periods=window).count().notna() & close.notna()
        votes.append(vote().astype(float).where(have, 0.0))
        known.append(have.astype(float))
    count = sum(known)
    score = sum(votes) / count.where(count > 0)
    return score.where(close.notna())


def _cap_and_scale(raw: np.ndarray, cov: np.ndarray, params: PolicyParams) -> tuple[np.ndarray, float]:
    """Scale ``raw`` (>= 0) to the target volatility under the caps (water filling). Returns (weights, forecast vol)."""
    w = np.zeros_like(raw)
    active = raw > 0
    if not active.any():
        return w, 0.0
    capped = np.zeros_like(active)
    for _ in range(raw.size + 1):
        free = active & ~capped
        if not free.any():
            break
        # Solve for k in vol(w_capped + k * raw_free) = target (a quadratic in k).
        fixed = np.where(capped, params.max_weight, 0.0)
        direction = np.where(free, raw, 0.0)
        a = direction @ cov @ direction
        b = 2.0 * fixed @ cov @ direction
        c = fixed @ cov @ fixed - params.target_vol**2
        if a <= 0:
            break
        disc = b * b - 4 * a * c
        k = max(0.0, (-b + math.sqrt(disc)) / (2 * a)) if disc >= 0 else 0.0
        # ... never beyond the gross limit.
        room = params.max_gross - fixed.sum()
        if direction.sum() > 0:
            k = min(k, max(0.0, room) / direction.sum())
        w = fixed + k * direction
        over = free & (w > params.max_weight + 1e-12)
        if not over.any():
            break
        capped |= over
    w = np.minimum(w, params.max_weight)
    if w.sum() > params.max_gross:
        w *= params.max_gross / w.sum()
    vol = float(math.sqrt(max(w @ cov @ w, 0.0)))
    return w, vol


def target_weights(
    close: pd.DataFrame,
    volatility: pd.DataFrame,
    params: PolicyParams = DEFAULT_PARAMS,
    *,
    p_up: pd.DataFrame | None = None,
    skill: pd.DataFrame | pd.Series | None = None,
    payoff: pd.DataFrame | None = None,
) -> Targets:
    """Target weights for every day of ``close`` (see the module docstring). Row ``t`` sees rows ``<= t`` only.

    ``close``: daily closes (dates x symbols, NaN before a symbol trades); ``volatility``: annualised forecasts
    (same shape) made at each close; ``p_up``: the model's calibrated P(up over H) per day and symbol (NaN:
    no view); ``skill``: its out-of-fold skill in [0, 1] (per symbol, or per day and symbol); ``payoff``:
    avg gain / avg loss over H per symbol, for the Kelly bound (NaN: the tilt may not add weight).
    """
    close = close.astype(float)
    symbols = list(close.columns)
    vol = volatility.reindex(index=close.index, columns=symbols).astype(float)
    trend = trend_scores(close, params)
    returns = np.log(close / close.shift(1))
    # Correlations from the last corr_window returns (pairwise complete), causal.
    corr = returns.rolling(params.corr_window, min_periods=max(20, params.corr_window // 3)).corr()

    n_days, n_sym = close.shape
    base = np.zeros((n_days, n_sym))
    final = np.zeros((n_days, n_sym))
    tilt_out = np.zeros((n_days, n_sym))
    brake = np.ones(n_days)
    dd_out = np.zeros(n_days)
    pvol = np.zeros(n_days)

    p_arr = p_up.reindex(index=close.index, columns=symbols).to_numpy(dtype=float) if p_up is not None else None
    if skill is None:
        s_arr = None
    elif isinstance(skill, pd.Series):
        s_arr = np.broadcast_to(skill.reindex(symbols).to_numpy(dtype=float), (n_days, n_sym))
    else:
        s_arr = skill.reindex(index=close.index, columns=symbols).to_numpy(dtype=float)
    b_arr = payoff.reindex(index=close.index, columns=symbols).to_numpy(dtype=float) if payoff is not None else None

    c = close.to_numpy()
    growth_factor = np.exp(np.nan_to_num(returns.to_numpy(), nan=0.0)) - 1.0
    v = vol.to_numpy()
    tr = trend.to_numpy()
    # Every day's inputs to the volatility target at once (the loop below only carries the brake's state).
    ok_all = np.isfinite(c) & np.isfinite(v) & (v > 0) & np.isfinite(tr)
    raw_all = np.where(ok_all, np.nan_to_num(tr) / np.where(ok_all, v, 1.0), 0.0)
    cm_all = np.nan_to_num(corr.to_numpy().reshape(n_days, n_sym, n_sym), nan=0.0)
    cm_all[:, np.arange(n_sym), np.arange(n_sym)] = 1.0
    sig_all = np.where(ok_all, v, 0.0)
    cov_all = cm_all * (sig_all[:, :, None] * sig_all[:, None, :])
    if p_arr is not None and s_arr is not None:
        skill_all = np.clip(np.nan_to_num(s_arr), 0.0, 1.0)
        p_known = np.isfinite(p_arr)
        p_filled = np.nan_to_num(p_arr, nan=0.5)

    equity, peak = 1.0, 1.0
    held = np.zeros(n_sym)  # the model portfolio's weights after the previous close's rebalance
    for t in range(n_days):
        # The model portfolio earns today's returns on yesterday's targets (for the brake only).
        if t > 0:
            growth = float(held @ growth_factor[t])
            equity *= 1.0 + growth
            peak = max(peak, equity)
        dd = equity / peak - 1.0
        dd_out[t] = dd
        cov = cov_all[t]
        w, _ = _cap_and_scale(raw_all[t], cov, params)
        base[t] = w
        depth = -dd
        if depth <= params.brake_start:
            m = 1.0
        elif depth >= params.brake_full:
            m = params.brake_floor
        else:
            m = 1.0 - (1.0 - params.brake_floor) * (depth - params.brake_start) / (params.brake_full - params.brake_start)
        brake[t] = m
        w = w * m
        if p_arr is not None and s_arr is not None and params.tilt > 0:
            pp = p_filled[t]
            rel = np.where(p_known[t] & (w > 0), params.tilt * skill_all[t] * (2.0 * pp - 1.0), 0.0)
            new = w * (1.0 + rel)
            # Kelly bounds the increase: never above kelly_fraction * f*, with f* = p - (1 - p) / b.
            if b_arr is not None:
                b = b_arr[t]
                good = np.isfinite(b) & (b > 0)
                kelly = np.where(good, params.kelly_fraction * (pp - (1 - pp) / np.where(good, b, 1.0)), 0.0)
                new = np.where(new > w, np.minimum(new, np.maximum(w, kelly)), new)
            else:
                new = np.minimum(new, w)
            new = np.minimum(new, params.max_weight)
            if new.sum() > params.max_gross:
                new *= params.max_gross / new.sum()
            tilt_out[t] = np.where(w > 0, new / np.where(w > 0, w, 1.0) - 1.0, 0.0)
            w = new
        final[t] = w
        pvol[t] = float(math.sqrt(max(w @ cov @ w, 0.0)))
        held = w
    idx, cols = close.index, close.columns
    return Targets(
        weights=pd.DataFrame(final, index=idx, columns=cols),
        base=pd.DataFrame(base, index=idx, columns=cols),
        trend=trend,
        volatility=vol,
        brake=pd.Series(brake, index=idx),
        drawdown=pd.Series(dd_out, index=idx),
        tilt=pd.DataFrame(tilt_out, index=idx, columns=cols),
        portfolio_vol=pd.Series(pvol, index=idx),
        params=params,
    )


def followed_weights(
    close: pd.DataFrame,
    volatility: pd.DataFrame,
    profile: str,
    *,
    p_up: pd.DataFrame | None = None,
    skill: pd.DataFrame | pd.Series | None = None,
    payoff: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The weights a user holds who accepts every card of ``profile``: its targets (:func:`target_weights`) traded
    with its minimum trade and trims above its cap (:func:`with_min_trade`). What the lab and the scoreboard replay."""
    params = params_for(profile)
    targets = target_weights(close, volatility, params, p_up=p_up, skill=skill, payoff=payoff)
    return with_min_trade(targets.weights, close, params.min_trade, cap=params.max_weight)


def with_min_trade(targets: pd.DataFrame, close: pd.DataFrame, min_trade: float, *, cap: float = 1.0) -> pd.DataFrame:
    """The weights actually held when only trades of at least ``min_trade`` of portfolio value are made.

    Simulates following the targets at each close, as the engine's cards do: a symbol is traded to its target
    when the difference from its drifted weight is at least ``min_trade``, when the target is 0 and something is
    held, or when the drifted weight is above ``cap`` (a trim); otherwise it keeps its drifted weight. Row ``t``
    is the portfolio after day ``t``'s trades (decided at t's close).
    """
    c = close.astype(float).to_numpy()
    tg = targets.reindex(index=close.index, columns=close.columns).to_numpy(dtype=float)
    n_days, n_sym = tg.shape
    out = np.zeros_like(tg)
    w = np.zeros(n_sym)
    prev = np.full(n_sym, np.nan)
    for t in range(n_days):
        price = c[t]
        if t > 0:
            growth = np.where(np.isfinite(price) & np.isfinite(prev) & (prev > 0), price / np.where(prev > 0, prev, 1.0), 1.0)
            value = w * growth
            total = 1.0 - w.sum() + value.sum()
            w = value / total if total > 0 else value
        target = np.nan_to_num(tg[t])
        trade = (np.abs(target - w) >= min_trade) | ((target == 0) & (w > 0)) | (w > cap + 1e-9)
        w = np.where(trade, target, w)
        out[t] = w
        prev = np.where(np.isfinite(price), price, prev)
    return pd.DataFrame(out, index=close.index, columns=close.columns)
