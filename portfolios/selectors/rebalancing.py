"""The rebalancing suggestion of one investor: reads prices and positions, calls the pure core, writes nothing.

Behind the ``portfolio_rebalancing`` feature flag. The numbers come from :mod:`portfolios.core.rebalancing`
(long-only minimum variance with per-symbol caps); this module only chooses its inputs:

- **Caps**: ``max_position_weight`` of the user's risk profile (:mod:`accounts.profiles`).
- **Cash buffer**: ``cash_buffer`` of the user's risk profile, the share of value kept in cash
  (:mod:`accounts.profiles` says why each profile keeps what it keeps).
- **Prices**: daily closes (adjusted) up to the latest bar on or before ``as_of``; one trading year of
  common daily returns; each trade at its symbol's latest close rounded to cents, as a trade records it.

Nothing is executed: the user places the suggested trades themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Max

from accounts.models import User
from accounts.profiles import profile_for
from market.models import PriceBar
from market.symbols import TRADABLE
from portfolios.core.ledger import Direction, q2
from portfolios.models import CashAccount, Position
from quantai.errors import Conflict
from quantai.flags import Flag, flag_enabled

if TYPE_CHECKING:
    import pandas as pd

    from portfolios.core import rebalancing

#: Calendar days of bars to read for a year of sessions (holidays and a margin included).
_WINDOW_DAYS = 400


@dataclass(frozen=True)
class RebalancingSuggestion:
    user: User
    risk_tolerance: str
    max_position_weight: Decimal
    cash_buffer: Decimal  # the profile's buffer; targets.cash_weight may be higher when the caps bind
    prices_as_of: date  # the latest bar used
    price_dates: dict[str, date]  # the bar each symbol's trade price comes from
    targets: rebalancing.TargetWeights  # pandas and the optimiser load only when a suggestion is made
    plan: rebalancing.RebalancingPlan


class RebalancingRefused(Conflict):
    """The suggestion cannot be made now (flag off, prices missing, short positions open)."""


def _closes_up_to(as_of: date | None) -> tuple[pd.DataFrame, dict[str, tuple[Decimal, date]]]:
    """Daily closes of the five (floats, one column each) in the window ending at the latest bar on or before
    ``as_of``, and each symbol's latest close there (``Decimal``) with its date."""
    import pandas as pd  # only when a suggestion is made: the dashboard's other figures never need it

    bars = PriceBar.objects.filter(symbol__in=TRADABLE)
    if as_of is not None:
        bars = bars.filter(date__lte=as_of)
    latest = bars.aggregate(d=Max("date"))["d"]
    if latest is None:
        return pd.DataFrame(columns=list(TRADABLE), dtype=float), {}
    rows = list(
        bars.filter(date__gt=latest - timedelta(days=_WINDOW_DAYS)).order_by("date").values_list("date", "symbol", "close")
    )
    last = {symbol: (close, day) for day, symbol, close in rows}  # ordered by date: the last one wins
    frame = pd.DataFrame([(d, s, float(c)) for d, s, c in rows], columns=["date", "symbol", "close"])
    closes = frame.pivot(index="date", columns="symbol", values="close")
    return closes.reindex(columns=list(TRADABLE)).sort_index(), last


def rebalancing_suggestion(*, user: User, as_of: date | None = None) -> RebalancingSuggestion:
    """Target weights for ``user``'s risk profile and the trades from their current long positions and cash.

    ``as_of`` (default: the latest bar) limits every price read to bars on or before that date.
    Raises :class:`RebalancingRefused` (409) with code ``feature_disabled``, ``prices_missing`` or
    ``short_positions_open``.
    """
    if not flag_enabled(Flag.PORTFOLIO_REBALANCING):
        raise RebalancingRefused("Rebalancing suggestions are turned off.", code="feature_disabled")
    positions = list(Position.objects.filter(user=user, shares__gt=0).only("symbol", "shares", "position_type"))
    if any(p.position_type == Direction.SHORT for p in positions):
        raise RebalancingRefused(
            "Rebalancing suggests long-only targets: cover your short positions first.", code="short_positions_open"
        )
    profile = profile_for(user.risk_tolerance)
    buffer = profile.cash_buffer

    from portfolios.core import rebalancing  # numpy, pandas and the optimiser, only for a suggestion

    closes, latest = _closes_up_to(as_of)
    try:
        targets = rebalancing.target_weights(closes, max_weight=float(profile.max_position_weight), cash_buffer=float(buffer))
    except rebalancing.RebalancingDataError as exc:
        raise RebalancingRefused(f"Not enough prices to suggest a rebalancing: {exc}", code="prices_missing") from None

    # Each symbol's own latest close (it may be newer than the last common date), as valuation uses it,
    # in cents as a trade records its price.
    prices = {s: q2(close) for s, (close, _day) in latest.items()}
    price_dates = {s: day for s, (_close, day) in latest.items()}
    cash = CashAccount.objects.filter(user=user).values_list("balance", flat=True).first() or Decimal("0.00")
    plan = rebalancing.rebalancing_trades(
        holdings={p.symbol: p.shares for p in positions}, prices=prices, cash=cash, weights=targets.weights
    )
    return RebalancingSuggestion(
        user=user,
        risk_tolerance=profile.name,
        max_position_weight=profile.max_position_weight,
        cash_buffer=buffer,
        prices_as_of=max(price_dates.values()),
        price_dates=price_dates,
        targets=targets,
        plan=plan,
    )


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}"


def rebalancing_panel(*, user: User) -> dict[str, Any]:
    """What the dashboard's rebalancing card shows: the suggestion with weights as percentages, or why there is none."""
    try:
        suggestion = rebalancing_suggestion(user=user)
    except RebalancingRefused as exc:
        return {"refused": exc.message, "code": exc.code}
    return {
        "suggestion": suggestion,
        "rows": [
            {"row": r, "before": _pct(r.weight_before), "target": _pct(r.target_weight), "after": _pct(r.weight_after)}
            for r in suggestion.plan.rows
        ],
        "cash_target": _pct(suggestion.targets.cash_weight),
        "cap": _pct(float(suggestion.max_position_weight)),
        "volatility": _pct(suggestion.targets.volatility),
    }
