"""The trade each user is recommended, for many users at once. Pure numpy: no Django, no I/O.

The risk-first policy (:mod:`recommendations.core.policy`) sets a target weight per profile and symbol; here each
user's card is the trade from their holding to it (:func:`size_to_target`), one element per user:

- BUY the difference when the target is above the position by at least the minimum trade, within the cash
  available (no margin) and the profile's 1-day 95 % VaR budget (parametric VaR ``z95 * sigma_1d * |value|`` per
  position, the portfolio's VaR taken as the *sum* of its positions' VaRs: an upper bound for any correlation);
- SELL the difference when the position is above the target by at least the minimum trade, everything when the
  target is 0, and a trim whenever the position is above the profile's cap;
- otherwise HOLD, with the reason; a short position is bought back (the policy holds no shorts).

Shares are floored to 4 decimal places; a sale never exceeds what is held. Prices are the trade price (cents);
all amounts are dollars; ``sigma_1d`` is the standard deviation of daily log returns (a fraction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

#: One-sided 95 % quantile of the standard normal distribution.
Z_95: Final = 1.6448536269514722
SHARE_DECIMALS: Final = 4
_SHARE_SCALE: Final = 10**SHARE_DECIMALS

#: Annualised volatility treated as the top of the risk scale (a position this volatile scores 1 on that half).
VOLATILITY_CAP: Final = 0.80
TRADING_DAYS: Final = 252

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]

BUY, SELL, HOLD = "BUY", "SELL", "HOLD"
SIDE_BUY, SIDE_SELL, SIDE_SHORT, SIDE_COVER, SIDE_NONE = "BUY", "SELL", "SHORT", "COVER", ""

# Why a size is what it is (for HOLD: why it is zero). The reasoning module words them for people.
NO_EQUITY = "no_equity"  # nothing in the portfolio to size against
WEIGHT_LIMIT = "weight_limit"
VAR_BUDGET = "var_budget"
CASH = "cash"
TOO_SMALL = "too_small"  # rounds down to zero shares
# The risk-first policy (size_to_target):
TARGET = "target"  # a trade from today's holding to the policy's target weight
BELOW_MIN_TRADE = "min_trade"  # the difference from the target is smaller than the minimum trade
NOT_IN_TARGET = "not_in_target"  # the policy holds none of it and neither does the user


@dataclass(frozen=True)
class Accounts:
    """Each user's portfolio and limits, one element per user (all arrays the same length ``n``).

    ``held_long`` / ``held_short``: shares of *this* symbol held (at most one is non-zero);
    ``other_var``: 1-day 95 % VaR in dollars of the user's positions in the *other* symbols;
    ``cash``: the balance; ``available_cash``: what a buy or a new short may spend (cash not reserved for shorts).
    """

    equity: FloatArray
    cash: FloatArray
    available_cash: FloatArray
    held_long: FloatArray
    held_short: FloatArray
    other_var: FloatArray
    max_weight: FloatArray
    var_budget: FloatArray

    def __len__(self) -> int:
        return int(self.equity.shape[0])


@dataclass(frozen=True)
class Market:
    """One symbol on one day: trade price, daily volatility, calibrated P(up) and payoff ratio (NaN if unknown)."""

    price: float
    sigma_1d: float
    p_up: float
    payoff_ratio: float
    short_reserve: float = 2.0


@dataclass(frozen=True)
class Sizing:
    """The result per user. ``shares`` are floored to 4 decimals; ``reason`` says what set the size."""

    action: StrArray
    side: StrArray
    shares: FloatArray
    reason: StrArray
    # Kept for the stored shape of older cards (sized by Kelly); the policy's cards record 0 (Kelly bounds the tilt only).
    kelly_full: FloatArray
    kelly_scaled: FloatArray
    weight_after: FloatArray  # |position value| / equity once the trade is done (current weight for HOLD)
    var_after: FloatArray  # portfolio 1-day 95 % VaR in dollars once the trade is done (sum of positions)
    risk_score: FloatArray


def floor_shares(shares: FloatArray) -> FloatArray:
    """Round share counts down to :data:`SHARE_DECIMALS` places (never up: the caps must hold).

    The 1e-12 relative nudge keeps binary noise (8 computed as 7.999999999999) from costing a whole
    ten-thousandth of a share; it can overshoot a cap by at most a trillionth, far below a cent.
    """
    return np.floor(np.maximum(shares, 0.0) * _SHARE_SCALE * (1.0 + 1e-12)) / _SHARE_SCALE


def risk_score(*, sigma_1d: float, position_var: FloatArray, var_budget_amount: FloatArray) -> FloatArray:
    """0-1: half the position's annualised volatility against :data:`VOLATILITY_CAP`, half its VaR against the budget.

    The first half says how wild the stock is; the second how much of the user's daily loss budget this one
    position takes (after the trade). Both are clipped to 0-1.
    """
    vol_part = min(1.0, max(0.0, sigma_1d * math.sqrt(TRADING_DAYS) / VOLATILITY_CAP))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(var_budget_amount > 0, position_var / var_budget_amount, np.where(position_var > 0, 1.0, 0.0))
    return np.clip(0.5 * vol_part + 0.5 * np.clip(share, 0.0, 1.0), 0.0, 1.0)


def size_to_target(
    accounts: Accounts, market: Market, *, target_weight: float | FloatArray, min_trade: float | FloatArray
) -> Sizing:
    """The trade from each user's holding to ``target_weight`` of their equity (the risk-first policy), long only.

    BUY the difference when the target is above the position by at least ``min_trade`` of equity, within the
    available cash and the VaR budget; SELL the difference when the position is above the target by at least
    ``min_trade``, when the target is 0 (everything), or when the position is above the profile's ``max_weight``
    (a trim, whatever its size); otherwise HOLD with the reason. A short position is bought back (the policy holds
    no shorts). Shares are floored to 4 decimals; a sale never exceeds what is held.
    """
    n = len(accounts)
    price = float(market.price)
    if not price > 0:
        raise ValueError("price must be positive")
    sigma = max(0.0, float(market.sigma_1d))
    var_per_dollar = Z_95 * sigma
    equity = np.maximum(accounts.equity, 0.0)
    long_value = accounts.held_long * price
    short_value = accounts.held_short * price
    budget = accounts.var_budget * equity
    var_this = var_per_dollar * (long_value + short_value)
    target_value = np.maximum(np.asarray(target_weight, dtype=float), 0.0) * equity
    min_trade = np.asarray(min_trade, dtype=float)
    diff = target_value - long_value

    action = np.full(n, HOLD, dtype="<U4")
    side = np.full(n, SIDE_NONE, dtype="<U5")
    shares = np.zeros(n)
    reason = np.full(n, BELOW_MIN_TRADE, dtype="<U14")
    delta_long = np.zeros(n)
    delta_short = np.zeros(n)
    has_equity = equity > 0

    # A short is bought back first (with the cash there is).
    cover = has_equity & (accounts.held_short > 0)
    cover_shares = floor_shares(np.minimum(accounts.held_short, np.maximum(accounts.cash, 0.0) / price))
    ok = cover & (cover_shares > 0)
    _assign(ok, cover_shares, SIDE_COVER, BUY, TARGET, shares, side, action, reason)
    delta_short[ok] = -cover_shares[ok] * price
    reason[cover & (cover_shares <= 0)] = CASH

    rest = has_equity & ~cover
    over_cap = long_value > accounts.max_weight * equity * (1 + 1e-9)
    sell = rest & (accounts.held_long > 0) & ((-diff >= min_trade * equity) | (target_value <= 0) | over_cap)
    sell_value = np.minimum(np.maximum(-diff, np.maximum(long_value - accounts.max_weight * equity, 0.0)), long_value)
    sell_shares = np.where(sell_value >= long_value - 1e-9, accounts.held_long, floor_shares(sell_value / price))
    ok = sell & (sell_shares > 0)
    sell_why = np.where(over_cap & (target_value > 0), WEIGHT_LIMIT, TARGET)
    _assign(ok, sell_shares, SIDE_SELL, SELL, sell_why, shares, side, action, reason)
    delta_long[ok] = -sell_shares[ok] * price

    var_room_value = _room(budget - accounts.other_var - var_this, var_per_dollar)
    buy = rest & ~sell & (diff >= min_trade * equity)
    candidates = np.stack([np.maximum(diff, 0.0), var_room_value, np.maximum(accounts.available_cash, 0.0)])
    buy_value = candidates.min(axis=0)
    binding = np.array([TARGET, VAR_BUDGET, CASH])[candidates.argmin(axis=0)]
    buy_shares = floor_shares(buy_value / price)
    ok = buy & (buy_shares > 0)
    _assign(ok, buy_shares, SIDE_BUY, BUY, binding, shares, side, action, reason)
    delta_long[ok] = buy_shares[ok] * price
    zero = buy & (buy_shares <= 0)
    reason[zero] = np.where(buy_value > 0, TOO_SMALL, binding)[zero]
    reason[rest & ~sell & ~buy & (target_value <= 0) & (accounts.held_long <= 0)] = NOT_IN_TARGET
    reason[~has_equity] = NO_EQUITY

    new_long = long_value + delta_long
    new_short = short_value + delta_short
    position_var = var_per_dollar * (new_long + new_short)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight_after = np.where(equity > 0, (new_long + new_short) / equity, 0.0)
    zeros = np.zeros(n)
    return Sizing(
        action=action,
        side=side,
        shares=shares,
        reason=reason,
        kelly_full=zeros,
        kelly_scaled=zeros.copy(),
        weight_after=weight_after,
        var_after=accounts.other_var + position_var,
        risk_score=risk_score(sigma_1d=sigma, position_var=position_var, var_budget_amount=budget),
    )


def _room(amount: FloatArray, var_per_dollar: float) -> FloatArray:
    """Dollars of position that ``amount`` dollars of VaR allow (unbounded when the stock has no volatility)."""
    if var_per_dollar <= 1e-12:  # a flat price: VaR does not limit the size (the weight limit still does)
        return np.where(amount >= 0, np.inf, 0.0)
    return np.maximum(amount, 0.0) / var_per_dollar


def _assign(
    mask: BoolArray | bool,
    values: FloatArray,
    trade_side: str,
    act: str,
    why: StrArray | str,
    shares: FloatArray,
    side: StrArray,
    action: StrArray,
    reason: StrArray,
) -> None:
    mask_arr = np.asarray(mask, dtype=bool)
    if mask_arr.ndim == 0:
        mask_arr = np.full(shares.shape, bool(mask_arr))
    shares[mask_arr] = values[mask_arr]
    side[mask_arr] = trade_side
    action[mask_arr] = act
    why_arr = np.broadcast_to(np.asarray(why), shares.shape)
    reason[mask_arr] = why_arr[mask_arr]


def payoff_ratio(avg_up: float, avg_down: float) -> float:
    """``b = avg_up / |avg_down|`` from the mean forward returns of up and down moves; NaN when undefined."""
    if not (math.isfinite(avg_up) and math.isfinite(avg_down)) or avg_up <= 0 or avg_down >= 0:
        return math.nan
    return avg_up / -avg_down
