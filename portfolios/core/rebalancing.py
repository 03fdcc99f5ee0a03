"""Rebalancing as pure functions (no Django): target weights from daily closes, then the trades to reach them.

Method: **long-only minimum variance** (PyPortfolioOpt's ``EfficientFrontier.min_volatility``, solved by
cvxpy/Clarabel) over the annualised sample covariance of simple daily returns, with every weight between
0 and the profile's cap. Minimum variance needs no forecast of returns, which over five stocks and one year
would be mostly noise; the covariance is far better estimated than the means.

Weights are fractions of the *whole* portfolio (cash + holdings): the invested weights sum to
``1 - cash_weight`` and each is at most ``max_weight``. When the caps cannot hold ``1 - cash_buffer``
(5 x 10 % = 50 % for a Conservative profile), the cash weight rises to what the caps leave, and the only
feasible answer is every symbol at its cap (no optimisation is run then; ``method`` says so).

What "today" may see: :func:`target_weights` uses only the rows of ``closes`` it is given (the caller cuts
them at the as-of date), and of those only the last ``lookback`` returns, so a bar added after the as-of date
cannot change the answer.

Trades (:func:`rebalancing_trades`) are in ``Decimal``: share counts rounded *down* to 4 decimals (never
past the target), sells never more than held, no shorts, and buys that fit in the cash after the sells at
the prices given (amounts rounded to cents like the ledger's, see :func:`portfolios.core.ledger.gross_amount`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

import numpy as np
import pandas as pd

from portfolios.core.ledger import SHARE_STEP, ZERO, gross_amount, q2

TRADING_DAYS = 252
#: Returns used for the covariance: one trading year.
LOOKBACK_SESSIONS = 252
#: Fewer common daily returns than this and the covariance is not worth optimising on.
MIN_OBSERVATIONS = 60
#: Weights below this (solver noise, about 1e-9) are treated as zero.
WEIGHT_EPSILON = 1e-7

METHOD_MIN_VARIANCE = "min_variance"
METHOD_CAPS_BIND = "equal_at_caps"


class RebalancingDataError(ValueError):
    """The prices cannot support a suggestion (a symbol without closes, too short a history)."""


@dataclass(frozen=True)
class TargetWeights:
    weights: dict[str, float]  # symbol -> fraction of total portfolio value, >= 0, <= max_weight
    cash_weight: float  # 1 - sum(weights)
    method: str  # METHOD_MIN_VARIANCE or METHOD_CAPS_BIND
    window_start: date  # first close used
    window_end: date  # last close used (the latest common bar)
    observations: int  # daily returns in the window
    volatility: float  # annualised volatility of the target portfolio (cash counted at zero volatility)


def _as_date(value: object) -> date:
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def target_weights(
    closes: pd.DataFrame,
    *,
    max_weight: float,
    cash_buffer: float,
    lookback: int = LOOKBACK_SESSIONS,
    min_observations: int = MIN_OBSERVATIONS,
) -> TargetWeights:
    """Long-only minimum-variance weights with per-symbol caps and a cash buffer.

    ``closes``: daily closes (adjusted), one column per symbol, indexed by date; rows after the as-of date
    must already be cut off. Only dates on which every symbol has a close are used, then the last
    ``lookback`` daily simple returns. ``max_weight`` and ``cash_buffer`` are fractions of total value.
    Deterministic: the same closes give the same weights.
    """
    if closes.shape[1] == 0:
        raise RebalancingDataError("No symbols to allocate to.")
    if not 0 < max_weight <= 1 or not 0 <= cash_buffer < 1:
        raise ValueError("max_weight must be in (0, 1] and cash_buffer in [0, 1)")
    empty = [str(s) for s in closes.columns if closes[s].notna().sum() == 0]
    if empty:
        raise RebalancingDataError(f"No closes for {', '.join(sorted(empty))}.")
    common = closes.sort_index().dropna(how="any").astype(float)
    returns = common.pct_change().iloc[1:].tail(lookback)
    if len(returns) < min_observations:
        raise RebalancingDataError(
            f"Only {len(returns)} daily returns on which every symbol has a close; at least {min_observations} are needed."
        )
    symbols = [str(s) for s in common.columns]
    n = len(symbols)
    # The caps may not hold 1 - buffer (Conservative: 5 x 10 % = 50 %): then the rest stays in cash.
    invested = min(1.0 - cash_buffer, n * max_weight)
    cap_in_sleeve = min(1.0, max_weight / invested)
    cov = returns.cov() * TRADING_DAYS

    if n * cap_in_sleeve <= 1.0 + 1e-9:
        sleeve = np.full(n, 1.0 / n)  # the caps leave exactly one feasible point
        method = METHOD_CAPS_BIND
    else:
        sleeve = _min_variance(cov, cap_in_sleeve)
        method = METHOD_MIN_VARIANCE
    weights = sleeve * invested
    variance = float(weights @ cov.to_numpy() @ weights)
    return TargetWeights(
        weights={s: float(w) for s, w in zip(symbols, weights, strict=True)},
        cash_weight=1.0 - float(weights.sum()),
        method=method,
        window_start=_as_date(common.index[-len(returns) - 1]),
        window_end=_as_date(common.index[-1]),
        observations=len(returns),
        volatility=float(np.sqrt(max(variance, 0.0))),
    )


def _min_variance(cov: pd.DataFrame, cap: float) -> np.ndarray:
    """Fully invested long-only minimum variance with ``0 <= w <= cap`` (weights of the invested sleeve)."""
    # Imported here: cvxpy takes about half a second to import, which pages that never rebalance should not pay.
    from pypfopt import EfficientFrontier, risk_models

    cov = risk_models.fix_nonpositive_semidefinite(cov, fix_method="spectral")
    frontier = EfficientFrontier(None, cov, weight_bounds=(0.0, cap), solver="CLARABEL")
    raw = frontier.min_volatility()
    w = np.array([raw[s] for s in cov.columns], dtype=float)
    # The interior-point solver lands within ~1e-9 of the bounds; snap to them so the invariants hold exactly.
    for _ in range(10):
        w = np.clip(np.where(w < WEIGHT_EPSILON, 0.0, w), 0.0, cap)
        w = w / w.sum()
        if w.max() <= cap:
            break
    return np.minimum(w, cap)


# --- Trades -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuggestedTrade:
    symbol: str
    side: str  # "SELL" or "BUY"
    shares: Decimal  # 4 decimals, > 0
    price: Decimal  # the price the suggestion assumed (2 decimals, as a trade records it)
    amount: Decimal  # shares x price, rounded to cents as the ledger does


@dataclass(frozen=True)
class RebalancingRow:
    symbol: str
    price: Decimal
    shares_before: Decimal
    shares_after: Decimal
    value_before: Decimal
    value_after: Decimal
    weight_before: float
    target_weight: float
    weight_after: float


@dataclass(frozen=True)
class RebalancingPlan:
    total_value: Decimal  # cash + holdings at the given prices
    cash_before: Decimal
    cash_after: Decimal
    target_cash_weight: float
    rows: list[RebalancingRow]
    trades: list[SuggestedTrade]  # sells first (they fund the buys), then buys; by symbol within each


def _floor_shares(value: Decimal) -> Decimal:
    return value.quantize(SHARE_STEP, rounding=ROUND_DOWN)


def rebalancing_trades(
    *, holdings: dict[str, Decimal], prices: dict[str, Decimal], cash: Decimal, weights: dict[str, float]
) -> RebalancingPlan:
    """The trades that move long ``holdings`` (shares) and ``cash`` to ``weights`` of the total value at ``prices``.

    A symbol held but absent from ``weights`` is sold. Each trade stops short of its target by less than one
    share step (0.0001), so the portfolio ends within ``price x 0.0001`` (plus cent rounding) of every target
    value, never beyond it. Buys are cut, last symbol first, if cent rounding would make them cost more than
    the cash after the sells.
    """
    if cash < 0 or any(s < 0 for s in holdings.values()):
        raise ValueError("cash and holdings must not be negative (short positions are not rebalanced)")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) > 1 + 1e-9:
        raise ValueError("weights must be non-negative and sum to at most 1")
    symbols = sorted(set(holdings) | set(weights))
    missing = [s for s in symbols if s not in prices or prices[s] <= 0]
    if missing:
        raise RebalancingDataError(f"No price for {', '.join(missing)}.")

    value_before = {s: gross_amount(holdings.get(s, ZERO), prices[s]) for s in symbols}
    total = cash + sum(value_before.values(), ZERO)
    sells: dict[str, Decimal] = {}
    buys: dict[str, Decimal] = {}
    for s in symbols:
        held = holdings.get(s, ZERO)
        # repr of a float is exact enough (17 significant digits) and deterministic.
        ideal = Decimal(repr(weights.get(s, 0.0))) * total / prices[s]
        if ideal < held:
            qty = min(held, _floor_shares(held - ideal))
            if qty > 0:
                sells[s] = qty
        elif ideal > held:
            qty = _floor_shares(ideal - held)
            if qty > 0:
                buys[s] = qty

    cash_after_sells = cash + sum((gross_amount(q, prices[s]) for s, q in sells.items()), ZERO)
    for s in sorted(buys, reverse=True):  # cent rounding only: at most a few steps
        while buys[s] > 0 and sum((gross_amount(q, prices[t]) for t, q in buys.items()), ZERO) > cash_after_sells:
            buys[s] -= SHARE_STEP
    buys = {s: q for s, q in buys.items() if q > 0}

    trades = [SuggestedTrade(s, "SELL", q, prices[s], gross_amount(q, prices[s])) for s, q in sorted(sells.items())]
    trades += [SuggestedTrade(s, "BUY", q, prices[s], gross_amount(q, prices[s])) for s, q in sorted(buys.items())]
    cash_after = cash_after_sells - sum((t.amount for t in trades if t.side == "BUY"), ZERO)

    rows = []
    for s in symbols:
        held = holdings.get(s, ZERO)
        after = held - sells.get(s, ZERO) + buys.get(s, ZERO)
        value_after = gross_amount(after, prices[s])
        rows.append(
            RebalancingRow(
                symbol=s,
                price=prices[s],
                shares_before=held,
                shares_after=after,
                value_before=value_before[s],
                value_after=value_after,
                weight_before=float(value_before[s] / total) if total > 0 else 0.0,
                target_weight=weights.get(s, 0.0),
                weight_after=float(value_after / total) if total > 0 else 0.0,
            )
        )
    return RebalancingPlan(
        total_value=q2(total),
        cash_before=cash,
        cash_after=cash_after,
        target_cash_weight=1.0 - sum(weights.values()),
        rows=rows,
        trades=trades,
    )
