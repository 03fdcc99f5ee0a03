"""A user's learned profile from their answers, and how it adapts sizes and ranking. Pure numpy/pandas: no Django.

Three things are learned from a user's past responses (accepted or rejected recommendations):

1. **Symbol preferences**: the acceptance rate per symbol, smoothed toward the user's overall rate with a
   Beta prior of strength :data:`SYMBOL_PRIOR_STRENGTH` (``(accepted + k * overall) / (n + k)``). The overall
   rate itself is Laplace-smoothed toward 1/2 (``(accepted + 1) / (n + 2)``). A symbol seen twice says little,
   so it stays near the overall rate; one seen thirty times speaks for itself.
2. **Confidence threshold**: the confidence below which the user usually rejects. Every midpoint between two
   observed confidences is a candidate rule "accept iff confidence >= t"; the chosen ``t`` maximises Youden's J
   (true-positive rate minus false-positive rate, both Laplace-smoothed), and is kept only when J reaches
   :data:`MIN_YOUDEN` on at least :data:`MIN_THRESHOLD_RESPONSES` answers. Otherwise there is no threshold.
3. **Risk adaptation**: for accepted trades, ``actual_shares_traded / recommended_shares`` capped at 1 (buying
   more than suggested is no reason to suggest more). The size scale is the mean of the last
   :data:`SIZE_WINDOW` ratios, smoothed toward 1 with :data:`SIZE_PRIOR_STRENGTH` pseudo-answers at 1, and
   bounded to ``[MIN_SIZE_SCALE, 1]``: personalisation may shrink a size, never grow it past what sizing allowed.

Applying the profile (:func:`adapt_sizing`, :func:`rank_order`) never changes an action or a trade side,
never shrinks a sale of held shares (the risk rules call for it) and never drops a recommendation: it only
shrinks risk-increasing trades (buys and new shorts) and orders the day's cards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from recommendations import sizing

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The overall rate is Laplace-smoothed: one pseudo-accept and one pseudo-reject.
OVERALL_PRIOR_RATE: Final = 0.5
OVERALL_PRIOR_STRENGTH: Final = 2.0
#: Pseudo-answers at the user's overall rate added to each symbol.
SYMBOL_PRIOR_STRENGTH: Final = 4.0
#: Fewer answers than this give no confidence threshold.
MIN_THRESHOLD_RESPONSES: Final = 8
#: A threshold must separate accepts from rejects at least this well (Youden's J, 0-1).
MIN_YOUDEN: Final = 0.2
#: Risk adaptation looks at the user's most recent accepted trades only: people change their minds.
SIZE_WINDOW: Final = 20
SIZE_PRIOR_STRENGTH: Final = 3.0
#: Never shrink a trade below a quarter of the size the sizing rules gave.
MIN_SIZE_SCALE: Final = 0.25

#: Ranking tiers: sales of held shares first (never buried), then other trades, then HOLDs.
TIER_HELD_SELL, TIER_TRADE, TIER_HOLD = 0, 1, 2

#: Columns :func:`build_profile` reads, one row per answered recommendation.
RESPONSE_COLUMNS: Final = ("timestamp", "symbol", "confidence", "accepted", "has_trade", "recommended_shares", "actual_shares")


def smoothed_rate(accepted: float, total: float, *, prior: float, strength: float) -> float:
    """``(accepted + strength * prior) / (total + strength)``: the posterior mean under a Beta prior."""
    if total + strength <= 0:
        return prior
    return (accepted + strength * prior) / (total + strength)


@dataclass(frozen=True)
class Profile:
    """What one user's answers say about them (see the module docstring for each estimate)."""

    responses: int = 0
    accepted: int = 0
    acceptance_rate: float = OVERALL_PRIOR_RATE
    symbol_rates: dict[str, float] = field(default_factory=dict)
    symbol_counts: dict[str, int] = field(default_factory=dict)
    confidence_threshold: float | None = None
    rate_below_threshold: float | None = None
    rate_above_threshold: float | None = None
    size_scale: float = 1.0
    size_samples: int = 0

    def symbol_rate(self, symbol: str) -> float:
        """Smoothed acceptance rate of ``symbol`` (the overall rate for a symbol never answered)."""
        return self.symbol_rates.get(symbol, self.acceptance_rate)

    def expected_acceptance(self, symbol: str, confidence: float) -> float:
        """A model-free estimate of P(accept): the symbol's rate, scaled by how the user treats that confidence level."""
        rate = self.symbol_rate(symbol)
        if self.confidence_threshold is None or self.rate_below_threshold is None or self.rate_above_threshold is None:
            return rate
        side_rate = self.rate_below_threshold if confidence < self.confidence_threshold else self.rate_above_threshold
        return float(min(1.0, max(0.0, rate * side_rate / max(self.acceptance_rate, 1e-9))))

    def as_dict(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "accepted": self.accepted,
            "acceptance_rate": self.acceptance_rate,
            "symbol_rates": dict(self.symbol_rates),
            "symbol_counts": dict(self.symbol_counts),
            "confidence_threshold": self.confidence_threshold,
            "rate_below_threshold": self.rate_below_threshold,
            "rate_above_threshold": self.rate_above_threshold,
            "size_scale": self.size_scale,
            "size_samples": self.size_samples,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Profile:
        """The inverse of :meth:`as_dict`; unknown keys are ignored, missing ones take the neutral defaults."""
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


#: The profile of someone who never answered: changes nothing.
NEUTRAL: Final = Profile()


def confidence_threshold(
    confidence: FloatArray, accepted: npt.NDArray[np.bool_]
) -> tuple[float | None, float | None, float | None]:
    """``(t, rate below t, rate above t)``: the confidence below which the user usually rejects, or ``(None, None, None)``.

    Candidates are the midpoints between consecutive distinct confidences; ties in J go to the lowest ``t``
    (the least restrictive reading of the evidence). Rates on either side are Laplace-smoothed.
    """
    conf = np.asarray(confidence, dtype=float)
    acc = np.asarray(accepted, dtype=bool)
    n_acc, n_rej = int(acc.sum()), int((~acc).sum())
    if conf.size < MIN_THRESHOLD_RESPONSES or n_acc == 0 or n_rej == 0:
        return None, None, None
    levels = np.unique(conf)
    if levels.size < 2:
        return None, None, None
    candidates = (levels[:-1] + levels[1:]) / 2.0
    above = conf[None, :] >= candidates[:, None]  # (candidate, answer)
    tpr = ((above & acc).sum(axis=1) + 1.0) / (n_acc + 2.0)
    fpr = ((above & ~acc).sum(axis=1) + 1.0) / (n_rej + 2.0)
    youden = tpr - fpr
    best = int(np.argmax(youden))  # argmax returns the first maximum: the lowest threshold among ties
    if youden[best] < MIN_YOUDEN:
        return None, None, None
    t = float(candidates[best])
    below_mask = conf < t
    rate_below = smoothed_rate(float(acc[below_mask].sum()), float(below_mask.sum()), prior=OVERALL_PRIOR_RATE, strength=2.0)
    rate_above = smoothed_rate(float(acc[~below_mask].sum()), float((~below_mask).sum()), prior=OVERALL_PRIOR_RATE, strength=2.0)
    return t, rate_below, rate_above


def size_scale(recommended: FloatArray, actual: FloatArray) -> tuple[float, int]:
    """``(scale, samples)`` from accepted trades in time order (oldest first); see the module docstring."""
    rec = np.asarray(recommended, dtype=float)
    act = np.asarray(actual, dtype=float)
    usable = (rec > 0) & np.isfinite(act) & (act >= 0)
    ratios = np.minimum(act[usable] / rec[usable], 1.0)[-SIZE_WINDOW:]
    scale = smoothed_rate(float(ratios.sum()), float(ratios.size), prior=1.0, strength=SIZE_PRIOR_STRENGTH)
    return float(min(1.0, max(MIN_SIZE_SCALE, scale))), int(ratios.size)


def build_profile(responses: pd.DataFrame) -> Profile:
    """The profile learned from one user's answered recommendations (columns: :data:`RESPONSE_COLUMNS`).

    ``accepted`` is a bool; ``has_trade`` says whether accepting executed a trade (HOLDs do not);
    ``actual_shares`` is NaN where nothing was traded. Rows are put in time order here.
    """
    if responses.empty:
        return NEUTRAL
    df = responses.sort_values("timestamp", kind="mergesort")
    accepted = df["accepted"].to_numpy(dtype=bool)
    n, k = int(accepted.size), int(accepted.sum())
    overall = smoothed_rate(k, n, prior=OVERALL_PRIOR_RATE, strength=OVERALL_PRIOR_STRENGTH)

    per_symbol = df.assign(accepted=accepted.astype(float)).groupby("symbol", sort=True)["accepted"].agg(["sum", "count"])
    symbol_rates = {
        str(s): smoothed_rate(float(row["sum"]), float(row["count"]), prior=overall, strength=SYMBOL_PRIOR_STRENGTH)
        for s, row in per_symbol.iterrows()
    }
    symbol_counts = {str(s): int(row["count"]) for s, row in per_symbol.iterrows()}

    t, below, above = confidence_threshold(df["confidence"].to_numpy(dtype=float), accepted)

    traded = df[accepted & df["has_trade"].to_numpy(dtype=bool)]
    scale, samples = size_scale(traded["recommended_shares"].to_numpy(dtype=float), traded["actual_shares"].to_numpy(dtype=float))
    return Profile(
        responses=n,
        accepted=k,
        acceptance_rate=overall,
        symbol_rates=symbol_rates,
        symbol_counts=symbol_counts,
        confidence_threshold=t,
        rate_below_threshold=below,
        rate_above_threshold=above,
        size_scale=scale,
        size_samples=samples,
    )


def adapt_sizing(
    sized: sizing.Sizing,
    scale: FloatArray,
    *,
    price: float,
    sigma_1d: float,
    equity: FloatArray,
    other_var: FloatArray,
    var_budget: FloatArray,
) -> sizing.Sizing:
    """``sized`` with risk-increasing trades (BUY, new SHORT) shrunk by each user's ``scale``; all else unchanged.

    The new size is ``min(base, floor(base * scale))`` with ``scale`` clipped to ``[MIN_SIZE_SCALE, 1]``, so it
    never exceeds what the sizing rules (weight limit, VaR budget, cash) allowed. Actions, sides and reasons
    are kept: a scaled size that would round to zero keeps the base size instead, because a zero would turn
    the trade into a HOLD. Sales of held shares and covers reduce risk and are never touched. The weight,
    VaR and risk score after the trade are recomputed for the rows that changed (same formulas as sizing).
    """
    s = np.clip(np.nan_to_num(np.asarray(scale, dtype=float), nan=1.0), MIN_SIZE_SCALE, 1.0)
    base = sized.shares
    grows = (sized.side == sizing.SIDE_BUY) | (sized.side == sizing.SIDE_SHORT)
    scaled = sizing.floor_shares(base * s)
    scaled = np.where(scaled > 0, scaled, base)
    shares = np.where(grows, np.minimum(base, scaled), base)
    changed = shares < base
    if not changed.any():
        return sized
    removed_value = (base - shares) * float(price)
    eq = np.asarray(equity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight_after = np.where(changed & (eq > 0), sized.weight_after - removed_value / eq, sized.weight_after)
    var_after = np.where(changed, sized.var_after - sizing.Z_95 * max(0.0, float(sigma_1d)) * removed_value, sized.var_after)
    position_var = np.maximum(var_after - np.asarray(other_var, dtype=float), 0.0)
    rescored = sizing.risk_score(sigma_1d=max(0.0, float(sigma_1d)), position_var=position_var, var_budget_amount=var_budget * eq)
    return replace(
        sized,
        shares=shares,
        weight_after=weight_after,
        var_after=var_after,
        risk_score=np.where(changed, rescored, sized.risk_score),
    )


def ranking_tier(action: str, side: str) -> int:
    """:data:`TIER_HELD_SELL` for a sale of held shares, :data:`TIER_TRADE` for other trades, :data:`TIER_HOLD` for HOLD."""
    if action == sizing.SELL and side == sizing.SIDE_SELL:
        return TIER_HELD_SELL
    if action == sizing.HOLD:
        return TIER_HOLD
    return TIER_TRADE


def rank_order(tiers: IntArray | list[int], scores: FloatArray | list[float]) -> IntArray:
    """Ranks 1..n (1 is shown first): by tier, then by score (higher first), then by input position.

    Every input gets a rank: ranking orders recommendations, it never hides one. A NaN score sorts last in its tier.
    """
    tier_arr = np.asarray(tiers, dtype=np.int64)
    score_arr = np.nan_to_num(np.asarray(scores, dtype=float), nan=-math.inf)
    order = np.lexsort((np.arange(tier_arr.size), -score_arr, tier_arr))
    ranks = np.empty(tier_arr.size, dtype=np.int64)
    ranks[order] = np.arange(1, tier_arr.size + 1)
    return ranks
