"""One stock as one investor sees it: its price history, their position in it, and the model's recent calls on it
for them with how each turned out. The per-symbol page (:mod:`insights.views.symbol`) reads this.

The figures come from their one home each: the position and its weight from
:func:`portfolios.selectors.portfolio_summary`, the hit rate from :func:`recommendations.stats.recommendation_stats`
(the same definition as the history page: ``direction_correct`` over the evaluated calls, beside the base rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from accounts.models import User
from market.models import PriceBar
from market.symbols import TRADABLE
from portfolios.models import Position
from portfolios.selectors import portfolio_summary
from recommendations.models import Recommendation, RecommendationType
from recommendations.stats import RecommendationStats, recommendation_stats

#: How many of the user's latest recommendations on the symbol the page lists.
RECENT_CALLS = 20


@dataclass(frozen=True)
class SymbolPosition:
    """The user's position in the symbol from the ledger's cached row (``None`` fields: nothing open)."""

    position: Position | None
    weight_pct: Decimal | None  # market value over the portfolio's equity, in percent

    @property
    def is_open(self) -> bool:
        return self.position is not None and self.position.shares > 0


@dataclass
class SymbolOverview:
    symbol: str
    closes: list[tuple[date, Decimal]]
    position: SymbolPosition
    recent: list[Recommendation]
    stats: RecommendationStats
    prices_source: str | None = None
    markers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def hit_rate(self) -> float | None:
        return self.stats.accuracy


def is_tradable(symbol: str) -> bool:
    return symbol in TRADABLE


def symbol_overview(*, user: User, symbol: str) -> SymbolOverview:
    """Everything the per-symbol page shows for ``user`` and a tradable ``symbol`` (a fixed number of queries).

    ``closes`` are the stored daily closes, oldest first; like every price in QuantAI they are split- and
    dividend-adjusted. ``recent`` is the user's last :data:`RECENT_CALLS` recommendations on the symbol, newest
    first; ``stats`` covers all of the user's recommendations on it.
    """
    if not is_tradable(symbol):
        raise ValueError(f"{symbol!r} is not one of the tradable symbols")
    bars = PriceBar.objects.filter(symbol=symbol).order_by("date")
    closes = list(bars.values_list("date", "close"))
    latest_source = bars.order_by("-date").values_list("source", flat=True).first()

    summary = portfolio_summary(user=user)
    row = next((p for p in [*summary.positions, *summary.closed_positions] if p.symbol == symbol), None)
    equity = summary.totals.equity
    weight = None
    if row is not None and row.shares > 0 and equity > 0:
        weight = (row.market_value / equity * 100).quantize(Decimal("0.01"))

    mine = Recommendation.objects.filter(user=user, symbol=symbol)
    recent = list(mine.order_by("-trading_date", "-id")[:RECENT_CALLS])
    known = {d.isoformat() for d, _ in closes}
    markers = [
        {"time": r.trading_date.isoformat(), "action": r.recommendation_type, "correct": r.direction_correct}
        for r in reversed(recent)
        if r.recommendation_type != RecommendationType.HOLD and r.trading_date.isoformat() in known
    ]
    return SymbolOverview(
        symbol=symbol,
        closes=closes,
        position=SymbolPosition(position=row, weight_pct=weight),
        recent=recent,
        stats=recommendation_stats(recommendations=mine),
        prices_source=latest_source,
        markers=markers,
    )
