"""A user's learned profile from their answers, and how it adapts sizes and ranking. Pure numpy/pandas: no Django.

Five things are learned from a user's past responses (accepted or rejected recommendations):

1. **Symbol preferences**: the acceptance rate per symbol, smoothed toward the user's overall rate with a
   Beta prior of strength :data:`SYMBOL_PRIOR_STRENGTH` (``(accepted + k * overall) / (n + k)``). The overall
   rate itself is Laplace-smoothed toward 1/2 (``(accepted + 1) / (n + 2)``). A symbol seen twice says little,
   so it stays near the overall rate; one seen thirty times speaks for itself.
2. **Action preferences**: the same smoothed rate per action (BUY, SELL, HOLD), prior strength
   :data:`ACTION_PRIOR_STRENGTH`: some people ignore HOLDs, some take profits gladly and buy reluctantly.
3. **Confidence threshold**: the confidence below which the user usually rejects. Every midpoint between two
   observed confidences is a candidate rule "accept iff confidence >= t"; the chosen ``t`` maximises Youden's J
   (true-positive rate minus false-positive rate, both Laplace-smoothed), and is kept only when J reaches
   :data:`MIN_YOUDEN` on at least :data:`MIN_THRESHOLD_RESPONSES` answers. Otherwise there is no threshold.
4. **Risk ceiling**: the mirror image, the risk score above which the user usually rejects (:func:`risk_ceiling`).
5. **Risk adaptation**: for accepted trades, ``actual_shares_traded / recommended_shares`` capped at 1 (buying
   more than suggested is no reason to suggest more). The size scale is the mean of the last
   :data:`SIZE_WINDOW` ratios, smoothed toward 1 with :data:`SIZE_PRIOR_STRENGTH` pseudo-answers at 1, and
   bounded to ``[MIN_SIZE_SCALE, 1]``: personalisation may shrink a size, never grow it past what sizing allowed.

**Ranking** (:func:`ranking_tier`, :func:`rank_order`). Two tiers: sales of held shares first, whatever their
score (the risk rules call for them: never buried); then every other card, trades and HOLDs alike, by
P(accept), highest first. The old rule that put every trade above every HOLD is gone: a user who reads only
the first few cards must see the ones they are likely to act on, and a HOLD on a favourite symbol can be
likelier than a buy they usually decline. P(accept) is the profile's own estimate
(:meth:`Profile.expected_acceptance`: in log-odds, the overall rate plus the symbol's, the action's and the
threshold/ceiling sides' departures from it), averaged in log-odds with the acceptance model's
(:mod:`recommendations.acceptance`) when one verifies: the pooled forest knows what users like this one do
but barely separates one user's symbols; the profile knows this user but is noisy while young. Scores are
compared at a resolution of :data:`RANK_RESOLUTION`: estimates closer than that are ties and keep the
default (symbol) order, so noise in a young profile does not shuffle the cards every day.

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

#: Pseudo-answers at the user's overall rate added to each action (BUY, SELL, HOLD).
ACTION_PRIOR_STRENGTH: Final = 4.0
#: Log-odds are clipped to this: a smoothed rate is never 0 or 1, but a sum of effects could run away.
MAX_LOG_ODDS: Final = 6.0

#: Ranking tiers: sales of held shares first (never buried), then everything else (trades and HOLDs) by P(accept).
TIER_HELD_SELL, TIER_OTHER = 0, 1
#: Scores closer than this are a tie (P(accept) estimates are not finer than that); ties keep the input order.
RANK_RESOLUTION: Final = 0.1
#: Kept for callers of the old three tiers: trades and HOLDs now share one tier, ordered by P(accept) alone.
TIER_TRADE = TIER_HOLD = TIER_OTHER

#: Columns :func:`build_profile` reads, one row per answered recommendation (``action`` and ``risk_score`` optional).
RESPONSE_COLUMNS: Final = (
    "timestamp",
    "symbol",
    "action",
    "confidence",
    "risk_score",
    "accepted",
    "has_trade",
    "recommended_shares",
    "actual_shares",
)


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
    action_rates: dict[str, float] = field(default_factory=dict)
    action_counts: dict[str, int] = field(default_factory=dict)
    risk_ceiling: float | None = None
    rate_above_ceiling: float | None = None
    rate_below_ceiling: float | None = None

    def symbol_rate(self, symbol: str) -> float:
        """Smoothed acceptance rate of ``symbol`` (the overall rate for a symbol never answered)."""
        return self.symbol_rates.get(symbol, self.acceptance_rate)

    def action_rate(self, action: str) -> float:
        """Smoothed acceptance rate of ``action`` (the overall rate for an action never answered)."""
        return self.action_rates.get(action, self.acceptance_rate)

    def expected_acceptance(
        self, symbol: str, confidence: float, action: str | None = None, risk_score: float | None = None
    ) -> float:
        """A model-free estimate of P(accept) for one card (see the module docstring, "Ranking").

        In log-odds: the user's overall rate, plus how far the symbol's rate, the action's rate, the rate on
        this side of the confidence threshold and the rate on this side of the risk ceiling each sit from it.
        An effect the profile has not learned (no threshold, an unseen action) adds nothing.
        """
        base = _logit(self.acceptance_rate)
        log_odds = base + (_logit(self.symbol_rate(symbol)) - base)
        if action is not None:
            log_odds += _logit(self.action_rate(action)) - base
        if (
            self.confidence_threshold is not None
            and self.rate_below_threshold is not None
            and self.rate_above_threshold is not None
        ):
            side = self.rate_below_threshold if confidence < self.confidence_threshold else self.rate_above_threshold
            log_odds += _logit(side) - base
        if (
            risk_score is not None
            and self.risk_ceiling is not None
            and self.rate_above_ceiling is not None
            and self.rate_below_ceiling is not None
        ):
            side = self.rate_above_ceiling if risk_score > self.risk_ceiling else self.rate_below_ceiling
            log_odds += _logit(side) - base
        return 1.0 / (1.0 + math.exp(-min(MAX_LOG_ODDS, max(-MAX_LOG_ODDS, log_odds))))

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
            "action_rates": dict(self.action_rates),
            "action_counts": dict(self.action_counts),
            "risk_ceiling": self.risk_ceiling,
            "rate_above_ceiling": self.rate_above_ceiling,
            "rate_below_ceiling": self.rate_below_ceiling,
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


def _logit(p: float) -> float:
    q = min(1.0 - 1e-6, max(1e-6, float(p)))
    return math.log(q / (1.0 - q))


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


def risk_ceiling(risk: FloatArray, accepted: npt.NDArray[np.bool_]) -> tuple[float | None, float | None, float | None]:
    """``(c, rate above c, rate at or below c)``: the risk score above which the user usually rejects, or Nones.

    The mirror image of :func:`confidence_threshold` (a rule "accept iff risk <= c" is "accept iff -risk >= -c"),
    with the same evidence rules (:data:`MIN_THRESHOLD_RESPONSES`, :data:`MIN_YOUDEN`).
    """
    r = np.asarray(risk, dtype=float)
    acc = np.asarray(accepted, dtype=bool)
    usable = np.isfinite(r)
    t, below, above = confidence_threshold(-r[usable], acc[usable])
    if t is None:
        return None, None, None
    return -t, below, above


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

    action_rates: dict[str, float] = {}
    action_counts: dict[str, int] = {}
    if "action" in df.columns:
        actions = df["action"].where(df["action"].notna(), "").astype(str).to_numpy()
        for action in sorted(set(actions) - {"", "nan"}):
            mask = actions == action
            action_counts[action] = int(mask.sum())
            action_rates[action] = smoothed_rate(
                float(accepted[mask].sum()), float(mask.sum()), prior=overall, strength=ACTION_PRIOR_STRENGTH
            )

    t, below, above = confidence_threshold(df["confidence"].to_numpy(dtype=float), accepted)
    ceiling, rate_above_c, rate_below_c = (None, None, None)
    if "risk_score" in df.columns:
        ceiling, rate_above_c, rate_below_c = risk_ceiling(
            pd.to_numeric(df["risk_score"], errors="coerce").to_numpy(dtype=float), accepted
        )

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
        action_rates=action_rates,
        action_counts=action_counts,
        risk_ceiling=ceiling,
        rate_above_ceiling=rate_above_c,
        rate_below_ceiling=rate_below_c,
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
    """:data:`TIER_HELD_SELL` for a sale of held shares (the risk rules call for it: never buried), else :data:`TIER_OTHER`.

    Trades and HOLDs share a tier: a HOLD the user is likely to act on may come before a trade they usually
    decline; only P(accept) orders them.
    """
    if action == sizing.SELL and side == sizing.SIDE_SELL:
        return TIER_HELD_SELL
    return TIER_OTHER


def rank_order(tiers: IntArray | list[int], scores: FloatArray | list[float], *, resolution: float = RANK_RESOLUTION) -> IntArray:
    """Ranks 1..n (1 is shown first): by tier, then by score (higher first) in steps of ``resolution``, then by input position.

    Scores are rounded to ``resolution`` before they are compared: two cards whose estimated P(accept) differ
    by less than the estimate's own precision keep the default order (the input's, symbol order in
    generation) instead of being shuffled by noise. Every input gets a rank: ranking orders
    recommendations, it never hides one. A NaN score sorts last in its tier.
    """
    tier_arr = np.asarray(tiers, dtype=np.int64)
    score_arr = np.nan_to_num(np.asarray(scores, dtype=float), nan=-math.inf, posinf=math.inf, neginf=-math.inf)
    if resolution > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            score_arr = np.where(np.isfinite(score_arr), np.round(score_arr / resolution), score_arr)
    order = np.lexsort((np.arange(tier_arr.size), -score_arr, tier_arr))
    ranks = np.empty(tier_arr.size, dtype=np.int64)
    ranks[order] = np.arange(1, tier_arr.size + 1)
    return ranks
