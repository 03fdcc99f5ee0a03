"""What each risk profile allows: defined once, as data, for every app that sizes or checks trades.

Import :data:`PROFILES` or call :func:`profile_for`; never repeat these numbers elsewhere.
Fractions are ``Decimal`` (0.10 = 10 %); numerical cores convert them to float at their edge.

- ``max_position_weight``: the largest share of portfolio value one symbol may take.
- ``kelly_fraction``: the share of the full Kelly bet the position sizer uses (full Kelly is
  too volatile for anyone; a fraction keeps most of the growth with far smaller drawdowns).
- ``var_budget_1d_95``: the most the portfolio may lose in one day at 95 % confidence (value at
  risk), as a share of portfolio value; a recommendation that would exceed it is resized or dropped.
- ``allowed_actions``: recommendation actions the user may be offered; only Aggressive may
  open short positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from accounts.questionnaire import AGGRESSIVE, CONSERVATIVE, MODERATE

BUY = "BUY"
SELL = "SELL"
HOLD = "HOLD"
SHORT = "SHORT"
COVER = "COVER"


@dataclass(frozen=True)
class RiskProfile:
    name: str
    summary: str
    max_position_weight: Decimal
    kelly_fraction: Decimal
    var_budget_1d_95: Decimal
    allowed_actions: frozenset[str]
    #: Share of portfolio value a rebalancing suggestion keeps in cash.
    cash_buffer: Decimal

    @property
    def max_position_weight_pct(self) -> Decimal:
        return self.max_position_weight * 100

    @property
    def var_budget_1d_95_pct(self) -> Decimal:
        return self.var_budget_1d_95 * 100

    @property
    def allows_shorting(self) -> bool:
        return SHORT in self.allowed_actions

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (fractions as strings, so no precision is lost)."""
        return {
            "name": self.name,
            "summary": self.summary,
            "max_position_weight": str(self.max_position_weight),
            "kelly_fraction": str(self.kelly_fraction),
            "var_budget_1d_95": str(self.var_budget_1d_95),
            "allowed_actions": sorted(self.allowed_actions),
            "allows_shorting": self.allows_shorting,
            "cash_buffer": str(self.cash_buffer),
        }


_LONG_ONLY = frozenset({BUY, SELL, HOLD})

PROFILES: dict[str, RiskProfile] = {
    CONSERVATIVE: RiskProfile(
        name=CONSERVATIVE,
        summary="Capital first: small positions, a tight daily loss budget, long positions only.",
        max_position_weight=Decimal("0.10"),
        kelly_fraction=Decimal("0.25"),
        var_budget_1d_95=Decimal("0.015"),
        allowed_actions=_LONG_ONLY,
        # Five 10 % caps allow at most 50 % in stocks: the buffer states what the caps imply.
        cash_buffer=Decimal("0.50"),
    ),
    MODERATE: RiskProfile(
        name=MODERATE,
        summary="Balanced: medium positions and daily loss budget, long positions only.",
        max_position_weight=Decimal("0.20"),
        kelly_fraction=Decimal("0.50"),
        var_budget_1d_95=Decimal("0.025"),
        allowed_actions=_LONG_ONLY,
        # Without cash, five 20 % caps would force an almost equal split.
        cash_buffer=Decimal("0.15"),
    ),
    AGGRESSIVE: RiskProfile(
        name=AGGRESSIVE,
        summary="Growth: larger positions, a wider daily loss budget, and short selling allowed.",
        max_position_weight=Decimal("0.30"),
        kelly_fraction=Decimal("0.75"),
        var_budget_1d_95=Decimal("0.04"),
        allowed_actions=_LONG_ONLY | {SHORT, COVER},
        # Something left for fees and the next opportunity.
        cash_buffer=Decimal("0.05"),
    ),
}


def profile_for(risk_tolerance: str) -> RiskProfile:
    """The limits for a tolerance ("Conservative", "Moderate" or "Aggressive")."""
    try:
        return PROFILES[risk_tolerance]
    except KeyError:
        raise ValueError(f"unknown risk tolerance {risk_tolerance!r}") from None
