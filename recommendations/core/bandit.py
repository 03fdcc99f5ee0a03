"""A per-user contextual bandit that decides how each day's cards are shown. Pure numpy: no Django.

**What it decides** (:func:`decide`), for one user's cards of one day:

- the order (which cards come first): risk-rule sales of held shares first, whatever the bandit thinks (the risk
  rules call for them: never buried), then the cards that ask for a decision (BUY, SELL) by their Thompson-sampled
  P(accept), then the HOLD cards, which ask nothing (they are information: "nothing to do today");
- which decision cards are *folded* as "below what you usually act on": shown collapsed after the others, one click
  away, never removed. A risk-rule sale is never folded; a user with fewer than :data:`MIN_ANSWERS_TO_FOLD`
  answers never has a card folded; otherwise a card is folded when its *sampled* P(accept) is below
  :data:`FOLD_LEVEL`, so a card the bandit is unsure about is sometimes shown open (that is the exploration);
- the size scale is the learned profile's (:mod:`recommendations.core.learned_profile`): the fraction of a recommended
  size the user trades, applied to risk-increasing trades only and never above the risk limits' size.

**The model** is Bayesian linear regression of the answer (1 accepted, 0 rejected) on the card's context
(:func:`context_vector`), with Thompson sampling for exploration (Agrawal and Goyal 2013, "Thompson Sampling for
Contextual Bandits with Linear Payoffs"; the same as MABWiser's ``LearningPolicy.LinTS``). Context: an intercept;
the symbol and the action (one-hot); the confidence as steps ``1[confidence >= c]`` on :data:`CONFIDENCE_STEPS`
(so a person who rejects everything below 0.55 is one learned step, not a slope); the risk score as steps
``1[risk > r]`` on :data:`RISK_STEPS`; the size as a share of the portfolio. The user's profile and history enter
through the prior and the user's own statistics.

**Monotone in confidence and risk.** The weights of the confidence steps are never negative and those of the risk
steps never positive, in the posterior mean and in every Thompson draw: nobody rejects a card *because* it is more
confident, or accepts it because it is riskier. Without this the model can explain the rejections of one symbol
whose cards are both confident and risky by their confidence, and then shows less of the confident, safe cards the
user does accept. The mean is the constrained ridge solution (:func:`ridge_mean`, an active set: a weight of the
wrong sign is held at zero and the rest refitted).

**What a draw explores.** A Thompson draw keeps the confidence and risk steps at their (monotone) posterior mean and
draws the *preference* weights (intercept, symbol, action, size) from their posterior given them, so every draw is
monotone as it stands. Exploration is there to learn what the user likes, which is what the profile shows them
(:mod:`recommendations.core.learned_profile`); the steps are learned from the cards the user answers anyway. The
earlier draw sampled the steps too and projected a wrong sign onto zero: a confidence step drawn below zero was
raised to zero, never lowered, so the draws of a confident card ran above its mean (by 0.04 in the median case of
tests/test_bandit.py's month of cards, up to 0.19), and in development replays a BUY card whose mean P(accept) was
0.05-0.10 was folded 62 % of the time instead of 88 %.

Per user the sufficient statistics are ``XᵀX`` and ``Xᵀy`` of their answers (:class:`ArmStats`). The posterior is
``A = Λ₀ + XᵀX / σ²``, ``μ = A⁻¹ (Λ₀ μ₀ + Xᵀy / σ²)`` with ``σ² =`` :data:`NOISE_VARIANCE` (a Bernoulli answer's
variance is at most 1/4) and ``Λ₀ = PRIOR_STRENGTH · I / σ²``: the prior counts as :data:`PRIOR_STRENGTH` answers on
each feature. The prior mean ``μ₀`` is the **population prior** (:func:`population_prior`): the ridge fit on the
pooled statistics of the users who answered the same questionnaire (risk tolerance and experience), or of every
user when that group has fewer than :data:`MIN_GROUP_ANSWERS` answers, or, with no answers anywhere, an intercept of
1/2 and nothing else. So a new user starts where people like them are, and their own answers take over after a few
dozen. Scores are sampled with the preference weights from ``N(μ, EXPLORATION² · (A_pp)⁻¹)`` (``A_pp``: the
precision's block of the preference weights, whose inverse is their covariance given the steps) with a random
generator the caller seeds (the same user, day and answers give the same decision).

**Why not MABWiser itself**: ``mabwiser.mab`` imports scikit-learn at module level (and the package requires
seaborn and matplotlib); generation runs in the web process and the default worker, which must not import
scikit-learn. The model above is the same LinTS, in 60 lines of numpy, with the population prior added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SYMBOLS: Final = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")
ACTIONS: Final = ("BUY", "SELL", "HOLD")
DECISION_ACTIONS: Final = frozenset({"BUY", "SELL"})
#: Where the confidence and risk steps are. A person's cut-off can be anywhere: a step sits within 0.005 of any
#: confidence cut-off in 0.5-0.62 (where the model's confidences mostly are) and within 0.025 of a risk cut-off in
#: 0.2-0.8. With steps every 0.02 and 0.1 (until December 2026) a cut-off of 0.594 sat in the bucket 0.58-0.60, so
#: the user's accepted cards at 0.599 were learned as "below their threshold" and folded; on six persona sets of
#: random preferences (none of them the built-in ones) the finer steps raised acceptance from week 3 in five and
#: kept accepted trades per user at or above the control group's in all six (coarse: five of six).
CONFIDENCE_STEPS: Final = (*(round(0.5 + 0.01 * i, 2) for i in range(13)), 0.64, 0.66, 0.7)
RISK_STEPS: Final = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))
#: Size as a share of the portfolio is capped here before it enters the model (a 40 % trade is "large", like 30 %).
SIZE_CAP: Final = 0.3

NOISE_VARIANCE: Final = 0.25
#: Pseudo-answers the prior is worth on each feature.
PRIOR_STRENGTH: Final = 4.0
#: The population fit's own ridge (in answers per feature).
POPULATION_RIDGE: Final = 1.0
#: A questionnaire group needs this many answers before it is its own prior (else: every user).
MIN_GROUP_ANSWERS: Final = 200
#: Scale of the Thompson sample's spread (1 = the posterior's own; 0.4 explored enough and lost less in the
#: synthetic replay of tests/test_bandit.py, which is no simulated persona). A symbol the user turned down a dozen
#: times is still shown open now and then (tests/test_bandit.py), which is what keeps its learned preference honest.
EXPLORATION: Final = 0.4
#: A decision card whose sampled P(accept) is below this is folded ("below what you usually act on") ...
FOLD_LEVEL: Final = 0.15
#: ... once the user has answered at least this many cards.
MIN_ANSWERS_TO_FOLD: Final = 10


def feature_names() -> list[str]:
    return [
        "intercept",
        *(f"symbol_{s}" for s in SYMBOLS),
        *(f"action_{a}" for a in ACTIONS),
        *(f"confidence_ge_{c:.2f}" for c in CONFIDENCE_STEPS),
        *(f"risk_gt_{r:.2f}" for r in RISK_STEPS),
        "size_pct",
    ]


DIMENSION: Final = len(feature_names())


def context_vector(*, symbol: str, action: str, confidence: float, risk_score: float, size_pct: float) -> FloatArray:
    """The card's context as the model sees it (see the module docstring); unknown symbols or actions are all-zero."""
    x = np.zeros(DIMENSION)
    x[0] = 1.0
    offset = 1
    if symbol in SYMBOLS:
        x[offset + SYMBOLS.index(symbol)] = 1.0
    offset += len(SYMBOLS)
    if action in ACTIONS:
        x[offset + ACTIONS.index(action)] = 1.0
    offset += len(ACTIONS)
    conf = float(confidence) if math.isfinite(confidence) else 0.0
    for j, c in enumerate(CONFIDENCE_STEPS):
        x[offset + j] = 1.0 if conf >= c - 1e-9 else 0.0
    offset += len(CONFIDENCE_STEPS)
    risk = float(risk_score) if math.isfinite(risk_score) else 0.0
    for j, r in enumerate(RISK_STEPS):
        x[offset + j] = 1.0 if risk > r else 0.0
    offset += len(RISK_STEPS)
    size = float(size_pct) if math.isfinite(size_pct) else 0.0
    x[offset] = min(max(size, 0.0), SIZE_CAP) / SIZE_CAP
    return x


@dataclass
class ArmStats:
    """Sufficient statistics of one user's (or one group's) answers: ``XᵀX``, ``Xᵀy`` and the count."""

    xtx: FloatArray = field(default_factory=lambda: np.zeros((DIMENSION, DIMENSION)))
    xty: FloatArray = field(default_factory=lambda: np.zeros(DIMENSION))
    n: int = 0

    def update(self, x: FloatArray, reward: float) -> None:
        """One answer (reward 1 accepted, 0 rejected): the online update."""
        self.xtx += np.outer(x, x)
        self.xty += x * float(reward)
        self.n += 1

    def __add__(self, other: ArmStats) -> ArmStats:
        return ArmStats(self.xtx + other.xtx, self.xty + other.xty, self.n + other.n)

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": feature_names(),
            "xtx": [[round(float(v), 6) for v in row] for row in self.xtx],
            "xty": [round(float(v), 6) for v in self.xty],
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ArmStats:
        """The inverse of :meth:`as_dict`; statistics over other features (an older format) are ignored."""
        if not data or data.get("features") != feature_names():
            return cls()
        try:
            xtx = np.asarray(data["xtx"], dtype=float).reshape(DIMENSION, DIMENSION)
            xty = np.asarray(data["xty"], dtype=float).reshape(DIMENSION)
        except (KeyError, ValueError, TypeError):
            return cls()
        return cls(xtx, xty, int(data.get("n", 0)))


def stats_from_answers(contexts: Iterable[FloatArray], rewards: Iterable[float]) -> ArmStats:
    """The statistics of a sequence of answers (what :meth:`ArmStats.update` would build one by one)."""
    stats = ArmStats()
    for x, r in zip(contexts, rewards, strict=True):
        stats.update(np.asarray(x, dtype=float), r)
    return stats


def default_prior() -> FloatArray:
    """The prior mean with no answers anywhere: P(accept) 1/2 for every card."""
    mu = np.zeros(DIMENSION)
    mu[0] = 0.5
    return mu


def _signs() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    names = feature_names()
    return (
        np.array([n.startswith("confidence_ge_") for n in names]),
        np.array([n.startswith("risk_gt_") for n in names]),
    )


#: Weights that must be >= 0 (the confidence steps) and <= 0 (the risk steps): see "Monotone" in the module docstring.
NON_NEGATIVE, NON_POSITIVE = _signs()
#: The weights a Thompson draw varies (intercept, symbol, action, size): every weight but the steps.
PREFERENCE = ~(NON_NEGATIVE | NON_POSITIVE)


def monotone(weights: FloatArray) -> FloatArray:
    """``weights`` with a negative confidence step or a positive risk step set to zero."""
    w = np.asarray(weights, dtype=float)
    return np.where(NON_NEGATIVE, np.maximum(w, 0.0), np.where(NON_POSITIVE, np.minimum(w, 0.0), w))


def ridge_mean(stats: ArmStats, *, prior_mean: FloatArray, strength: float) -> FloatArray:
    """Posterior mean of the weights, ``(strength·I + XᵀX)⁻¹ (strength·μ₀ + Xᵀy)`` (σ² cancels), constrained to be
    monotone: a weight that comes out with the wrong sign is held at zero and the others refitted, until none does."""
    a = strength * np.eye(DIMENSION) + stats.xtx
    b = strength * monotone(prior_mean) + stats.xty
    held = np.zeros(DIMENSION, dtype=bool)
    w = np.zeros(DIMENSION)
    for _ in range(DIMENSION):  # each pass holds at least one more weight at zero, so this ends
        free = ~held
        w = np.zeros(DIMENSION)
        w[free] = np.linalg.solve(a[np.ix_(free, free)], b[free])
        wrong = free & ((NON_NEGATIVE & (w < 0)) | (NON_POSITIVE & (w > 0)))
        if not wrong.any():
            break
        held |= wrong
    return w


def population_prior(groups: dict[Any, ArmStats], key: Any) -> FloatArray:
    """The prior mean of a user in questionnaire group ``key``: that group's ridge fit when it has enough answers,
    else every group's pooled, else :func:`default_prior`."""
    base = default_prior()
    pooled = sum(groups.values(), ArmStats())
    if pooled.n == 0:
        return base
    overall = ridge_mean(pooled, prior_mean=base, strength=POPULATION_RIDGE)
    group = groups.get(key)
    if group is None or group.n < MIN_GROUP_ANSWERS:
        return overall
    return ridge_mean(group, prior_mean=overall, strength=POPULATION_RIDGE)


@dataclass(frozen=True)
class Posterior:
    mean: FloatArray
    covariance: FloatArray
    answers: int

    def expected(self, x: FloatArray) -> float:
        """Posterior mean P(accept) of context ``x``, clipped to [0, 1]."""
        return float(np.clip(x @ self.mean, 0.0, 1.0))

    def sample(self, xs: FloatArray, rng: np.random.Generator) -> FloatArray:
        """One Thompson draw of the weights, applied to every row of ``xs`` (one draw per decision).

        The confidence and risk steps stay at their posterior mean (monotone); the preference weights are drawn from
        their posterior given them (see "What a draw explores" in the module docstring), so the draw is monotone too.
        """
        drawn = np.flatnonzero(PREFERENCE)
        factor = np.linalg.cholesky(self.covariance[np.ix_(drawn, drawn)])
        theta = self.mean.copy()
        theta[drawn] += EXPLORATION * (factor @ rng.standard_normal(drawn.size))
        return np.asarray(np.clip(xs @ theta, 0.0, 1.0), dtype=float)


def posterior(stats: ArmStats, prior_mean: FloatArray, *, strength: float = PRIOR_STRENGTH) -> Posterior:
    """The user's posterior from their statistics and the prior (see the module docstring).

    The covariance is that of the preference weights given the confidence and risk steps (rows and columns of the
    steps are zero): what a Thompson draw varies.
    """
    mean = ridge_mean(stats, prior_mean=prior_mean, strength=strength)
    drawn = np.flatnonzero(PREFERENCE)
    precision = (strength * np.eye(DIMENSION) + stats.xtx) / NOISE_VARIANCE
    covariance = np.zeros((DIMENSION, DIMENSION))
    block = np.linalg.inv(precision[np.ix_(drawn, drawn)])
    covariance[np.ix_(drawn, drawn)] = (block + block.T) / 2.0  # symmetric to the last bit, so Cholesky never complains
    return Posterior(mean=mean, covariance=covariance, answers=stats.n)


@dataclass(frozen=True)
class CardContext:
    """One card as the bandit sees it. ``risk_rule_sale``: a sale of held shares the risk rules call for."""

    symbol: str
    action: str
    confidence: float
    risk_score: float
    size_pct: float
    risk_rule_sale: bool = False

    @property
    def asks_decision(self) -> bool:
        return self.action in DECISION_ACTIONS

    def vector(self) -> FloatArray:
        return context_vector(
            symbol=self.symbol, action=self.action, confidence=self.confidence, risk_score=self.risk_score, size_pct=self.size_pct
        )


@dataclass(frozen=True)
class Decision:
    """The bandit's decision for one card: rank (1 first), folded, the sampled score and the posterior mean."""

    rank: int
    folded: bool
    sampled: float
    expected: float


#: Display tiers: risk-rule sales, open decision cards, folded decision cards, then HOLDs (information).
TIER_RISK_SALE, TIER_DECISION, TIER_FOLDED, TIER_INFORMATION = 0, 1, 2, 3


def decide(cards: Sequence[CardContext], post: Posterior, rng: np.random.Generator) -> list[Decision]:
    """Rank and fold one user's cards of one day (see the module docstring). Every card gets a rank; none is removed."""
    if not cards:
        return []
    xs = np.vstack([c.vector() for c in cards])
    sampled = post.sample(xs, rng)
    expected = np.clip(xs @ post.mean, 0.0, 1.0)
    tiers = []
    folded = []
    for card, s in zip(cards, sampled, strict=True):
        fold = card.asks_decision and not card.risk_rule_sale and post.answers >= MIN_ANSWERS_TO_FOLD and float(s) < FOLD_LEVEL
        folded.append(fold)
        if card.risk_rule_sale:
            tiers.append(TIER_RISK_SALE)
        elif not card.asks_decision:
            tiers.append(TIER_INFORMATION)
        else:
            tiers.append(TIER_FOLDED if fold else TIER_DECISION)
    order = np.lexsort((np.arange(len(cards)), -sampled, np.asarray(tiers)))
    ranks = np.empty(len(cards), dtype=np.int64)
    ranks[order] = np.arange(1, len(cards) + 1)
    return [
        Decision(rank=int(ranks[i]), folded=folded[i], sampled=float(sampled[i]), expected=float(expected[i]))
        for i in range(len(cards))
    ]
