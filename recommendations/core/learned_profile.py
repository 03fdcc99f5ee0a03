"""A user's learned profile from their answers, and how it adapts sizes and ranking. Pure numpy/pandas: no Django.

Five things are learned from a user's past responses (accepted or rejected recommendations):

1. **Symbol preferences** (:func:`symbol_preferences`): a regularised logistic regression of the user's answers on
   the card's symbol, controlling for its action and for whether it fell below the user's learned confidence
   threshold or above their risk ceiling (3 and 4 below), so a symbol is not blamed for the low confidence, the
   high risk or the action of the cards it happened to come with. Each symbol's effect has a normal prior of
   standard deviation :data:`SYMBOL_EFFECT_SD` log-odds centred on the user's own average (not the population's:
   this is "what QuantAI has learned about *you*", and a symbol seen twice should read as "like your others").
   ``symbol_rates[s]`` is the fitted P(accept) of a card of ``s`` that clears the threshold and ceiling, with the
   user's usual mix of actions; ``symbol_counts[s]`` how many such clearing cards were answered (0: the prior alone).
   Why not the acceptance rate per symbol: in a month a symbol's confidence and risk barely move, so one symbol's
   cards can all be below the user's threshold or above their ceiling, and which of its cards were answered depends
   on what the bandit showed: a raw rate mixes the symbol with everything that came with it.
2. **Action preferences**: the same smoothed rate per action (BUY, SELL, HOLD), prior strength
   :data:`ACTION_PRIOR_STRENGTH`: some people ignore HOLDs, some take profits gladly and buy reluctantly.
3. **Confidence threshold**: the confidence below which the user usually rejects. Every midpoint between two
   observed confidences is a candidate change point in the acceptance rate; the chosen ``t`` maximises the
   likelihood of the answers, and is kept only when it beats a single rate by :data:`MIN_LOG_LIKELIHOOD_GAIN`
   nats on at least :data:`MIN_THRESHOLD_RESPONSES` answers, the user accepted at most :data:`MAX_RATE_BELOW`
   of the cards below it, and those cards come from at least :data:`MIN_STOCKS_BEYOND` stocks
   (:func:`confidence_threshold`). Otherwise there is none: in a month each stock's confidence barely moves, and
   rejecting the one stock whose cards sit lowest is a dislike of that stock as much as a rule.
4. **Risk ceiling**: the mirror image, the risk score above which the user usually rejects (:func:`risk_ceiling`).
5. **Risk adaptation**: for accepted trades, ``actual_shares_traded / recommended_shares`` capped at 1 (buying
   more than suggested is no reason to suggest more). The size scale is the mean of the last
   :data:`SIZE_WINDOW` ratios, smoothed toward 1 with :data:`SIZE_PRIOR_STRENGTH` pseudo-answers at 1, and
   bounded to ``[MIN_SIZE_SCALE, 1]``: personalisation may shrink a size, never grow it past what sizing allowed.
   What the person reveals, :attr:`Profile.size_fraction`, is the *median* of the same ratios without the prior,
   and ``None`` until they have traded: a persona who never traded used to read as "trades 100 %" (the prior).
6. **Cards read**: how many cards a day the user answers when they leave some unanswered (:func:`cards_read`):
   ``None`` when they answer every card they are shown.

Only cards that ask for a decision (BUY, SELL) are learned from (:func:`decision_answers`): a HOLD asks nothing.

**Ranking** (:func:`ranking_tier`, :func:`rank_order`). Two tiers: sales of held shares first, whatever their
score (the risk rules call for them: never buried); then every other card, trades and HOLDs alike, by
P(accept), highest first. The old rule that put every trade above every HOLD is gone: a user who reads only
the first few cards must see the ones they are likely to act on, and a HOLD on a favourite symbol can be
likelier than a buy they usually decline. P(accept) is the profile's own estimate
(:meth:`Profile.expected_acceptance`: in log-odds, the overall rate plus the symbol's, the action's and the
threshold/ceiling sides' departures from it), averaged in log-odds with the acceptance model's
(:mod:`recommendations.core.acceptance_model`) when one verifies: the pooled forest knows what users like this one do
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
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from recommendations.core import sizing

if TYPE_CHECKING:  # frames come from the nightly job; the web process reads stored profiles without pandas
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The overall rate is Laplace-smoothed: one pseudo-accept and one pseudo-reject.
OVERALL_PRIOR_RATE: Final = 0.5
OVERALL_PRIOR_STRENGTH: Final = 2.0
#: Pseudo-answers at the user's overall rate added to each symbol by the acceptance model's running feature
#: (:mod:`recommendations.core.acceptance_model`); the profile's own symbol preferences use the regression below.
SYMBOL_PRIOR_STRENGTH: Final = 4.0
#: Prior standard deviations (log-odds) of the symbol-preference regression (:func:`symbol_preferences`): a symbol's
#: effect around the user's average (1: likes and dislikes up to about e times the odds are usual; stronger ones,
#: and any one-sided run of a few answers, are pulled in until more answers confirm them),
#: an action's, the intercept's around the user's rate on the cards that clear their rules, and the effect of being
#: below the learned threshold or above the learned ceiling. That one is all but flat: where a symbol's cards were
#: always beyond a rule, the two cannot be told apart, and the split follows the prior variances (1 : 100 here), so
#: the rule takes the blame and the symbol is left where the user's other symbols are.
SYMBOL_EFFECT_SD: Final = 1.0
ACTION_EFFECT_SD: Final = 1.0
INTERCEPT_SD: Final = 2.0
RULE_EFFECT_SD: Final = 10.0
#: Fewer answers than this give no confidence threshold.
MIN_THRESHOLD_RESPONSES: Final = 8
#: A threshold must explain the answers better than one rate by this many nats of log-likelihood (about p < 0.01) ...
MIN_LOG_LIKELIHOOD_GAIN: Final = 3.0
#: ... with at least this many answers below it, accepted at most this share of the rate above it ...
MIN_BELOW_THRESHOLD: Final = 3
MAX_RATE_RATIO_BELOW: Final = 0.5
#: ... and at most this share of the cards below it accepted: a threshold is a rule ("usually rejects": four in five
#: or more), not a lower rate. In a month each symbol's confidence barely moves, so a split between two symbols'
#: confidence levels also fits a mere dislike of the lower ones (accepted, say, one time in three); without this
#: the dislike was learned as a threshold and the symbol's own rate left unexplained.
MAX_RATE_BELOW: Final = 0.2
#: ... and, when the stocks are known, the answers below it must come from this many stocks with this many each.
MIN_STOCKS_BEYOND: Final = 2
MIN_ANSWERS_PER_STOCK_BEYOND: Final = 2
#: Risk adaptation looks at the user's most recent accepted trades only: people change their minds.
SIZE_WINDOW: Final = 20
SIZE_PRIOR_STRENGTH: Final = 3.0
#: Never shrink a trade below a quarter of the size the sizing rules gave.
MIN_SIZE_SCALE: Final = 0.25

#: Pseudo-answers at the user's overall rate added to each action (BUY, SELL, HOLD).
ACTION_PRIOR_STRENGTH: Final = 4.0
#: Log-odds are clipped to this: a smoothed rate is never 0 or 1, but a sum of effects could run away.
MAX_LOG_ODDS: Final = 6.0

#: Ranking tiers: sales of held shares the risk rules call for first (never buried, :func:`ranking_tier`), then
#: everything else (trades and HOLDs) by P(accept).
TIER_HELD_SELL, TIER_OTHER = 0, 1
#: Scores closer than this are a tie (P(accept) estimates are not finer than that); ties keep the input order.
RANK_RESOLUTION: Final = 0.1

#: The cards that ask the user for a decision; a HOLD is information ("nothing to do"), not a question.
DECISION_ACTIONS: Final = ("BUY", "SELL")

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
    size_fraction: float | None = None
    cards_read: float | None = None

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
            "size_fraction": self.size_fraction,
            "cards_read": self.cards_read,
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


def _bernoulli_log_likelihood(k: FloatArray, n: FloatArray) -> FloatArray:
    """``k log p + (n - k) log(1 - p)`` at the maximum-likelihood ``p = k / n`` (0 where ``n`` is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), 0.5)
        ll = np.where(k > 0, k * np.log(np.where(p > 0, p, 1.0)), 0.0)
        ll = ll + np.where(n - k > 0, (n - k) * np.log(np.where(p < 1, 1.0 - p, 1.0)), 0.0)
    return np.asarray(ll, dtype=float)


def confidence_threshold(
    confidence: FloatArray, accepted: npt.NDArray[np.bool_], symbols: npt.NDArray[np.str_] | None = None
) -> tuple[float | None, float | None, float | None]:
    """``(t, rate below t, rate above t)``: the confidence below which the user usually rejects, or ``(None, None, None)``.

    A change point in a Bernoulli rate: every midpoint ``t`` between two consecutive distinct confidences splits the
    answers in two, each with its own acceptance rate; the chosen ``t`` maximises the likelihood of the answers
    (ties to the lowest ``t``). It is kept when the split explains the answers better than one rate by at least
    :data:`MIN_LOG_LIKELIHOOD_GAIN` nats, the rate below is lower than above (and at most
    :data:`MAX_RATE_RATIO_BELOW` of it, and at most :data:`MAX_RATE_BELOW`), on at least
    :data:`MIN_THRESHOLD_RESPONSES` answers with at least :data:`MIN_BELOW_THRESHOLD` of them below ``t``. Given the
    cards' ``symbols``, the answers below ``t`` must also come from at least :data:`MIN_STOCKS_BEYOND` stocks with
    :data:`MIN_ANSWERS_PER_STOCK_BEYOND` answers each: a rule about confidence spans stocks, and when the cards below
    a candidate are one stock's, rejecting them is rejecting that stock (:func:`symbol_preferences` learns it).
    (Youden's J, used before, needed the threshold to separate accepts from rejects *overall*; a person who
    rejects everything below 0.55 and half of the rest never reached it, and four personas of five had no
    threshold.) Rates on either side are Laplace-smoothed.
    """
    conf = np.asarray(confidence, dtype=float)
    acc = np.asarray(accepted, dtype=bool)
    usable = np.isfinite(conf)
    conf, acc = conf[usable], acc[usable]
    stocks = np.asarray(symbols)[usable] if symbols is not None else None
    n_acc, n_rej = int(acc.sum()), int((~acc).sum())
    if conf.size < MIN_THRESHOLD_RESPONSES or n_acc == 0 or n_rej == 0:
        return None, None, None
    levels = np.unique(conf)
    if levels.size < 2:
        return None, None, None
    candidates = (levels[:-1] + levels[1:]) / 2.0
    below = conf[None, :] < candidates[:, None]  # (candidate, answer)
    n_below = below.sum(axis=1).astype(float)
    k_below = (below & acc).sum(axis=1).astype(float)
    n_above, k_above = conf.size - n_below, n_acc - k_below
    gain = (
        _bernoulli_log_likelihood(k_below, n_below)
        + _bernoulli_log_likelihood(k_above, n_above)
        - _bernoulli_log_likelihood(np.array([float(n_acc)]), np.array([float(conf.size)]))[0]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_b, rate_a = k_below / n_below, k_above / n_above
    admissible = (
        (n_below >= MIN_BELOW_THRESHOLD) & (n_above >= 1) & (rate_b <= MAX_RATE_RATIO_BELOW * rate_a) & (rate_b <= MAX_RATE_BELOW)
    )
    if stocks is not None:
        per_stock = np.column_stack([(below & (stocks == s)[None, :]).sum(axis=1) for s in np.unique(stocks)])
        admissible &= (per_stock >= MIN_ANSWERS_PER_STOCK_BEYOND).sum(axis=1) >= MIN_STOCKS_BEYOND
    if not admissible.any():
        return None, None, None
    gain = np.where(admissible, gain, -np.inf)
    best = int(np.argmax(gain))  # the first maximum: the lowest threshold among ties
    if gain[best] < MIN_LOG_LIKELIHOOD_GAIN:
        return None, None, None
    t = float(candidates[best])
    below_mask = conf < t
    rate_below = smoothed_rate(float(acc[below_mask].sum()), float(below_mask.sum()), prior=OVERALL_PRIOR_RATE, strength=2.0)
    rate_above = smoothed_rate(float(acc[~below_mask].sum()), float((~below_mask).sum()), prior=OVERALL_PRIOR_RATE, strength=2.0)
    return t, rate_below, rate_above


def risk_ceiling(
    risk: FloatArray, accepted: npt.NDArray[np.bool_], symbols: npt.NDArray[np.str_] | None = None
) -> tuple[float | None, float | None, float | None]:
    """``(c, rate above c, rate at or below c)``: the risk score above which the user usually rejects, or Nones.

    The mirror image of :func:`confidence_threshold` (a rule "accept iff risk <= c" is "accept iff -risk >= -c"),
    with the same evidence rules (:data:`MIN_THRESHOLD_RESPONSES`, :data:`MIN_LOG_LIKELIHOOD_GAIN`, the stocks).
    """
    r = np.asarray(risk, dtype=float)
    acc = np.asarray(accepted, dtype=bool)
    usable = np.isfinite(r)
    t, below, above = confidence_threshold(-r[usable], acc[usable], None if symbols is None else np.asarray(symbols)[usable])
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


def size_fraction(recommended: FloatArray, actual: FloatArray) -> float | None:
    """The median share of the recommended size the user traded, over their last :data:`SIZE_WINDOW` trades (capped
    at 1); ``None`` without a trade. No prior: this is what they revealed, not what is applied (:func:`size_scale`)."""
    rec = np.asarray(recommended, dtype=float)
    act = np.asarray(actual, dtype=float)
    usable = (rec > 0) & np.isfinite(act) & (act >= 0)
    ratios = np.minimum(act[usable] / rec[usable], 1.0)[-SIZE_WINDOW:]
    return float(np.median(ratios)) if ratios.size else None


def cards_read(shown: IntArray | list[int], answered: IntArray | list[int]) -> float | None:
    """How many cards a day the user reads: the median answered on the days they left some of the cards shown to
    them unanswered; ``None`` when they answered every card every day (or never left one)."""
    s = np.asarray(shown, dtype=float)
    a = np.asarray(answered, dtype=float)
    truncated = (a < s) & (s > 0)
    if not truncated.any():
        return None
    return float(np.median(a[truncated]))


def decision_answers(responses: pd.DataFrame) -> pd.DataFrame:
    """The answers to cards that asked for a decision (BUY, SELL); all of them when there is no ``action`` column."""
    if "action" not in responses.columns or responses.empty:
        return responses
    return responses[responses["action"].isin(DECISION_ACTIONS)]


def build_profile(responses: pd.DataFrame) -> Profile:
    """The profile learned from one user's answered recommendations (columns: :data:`RESPONSE_COLUMNS`).

    ``accepted`` is a bool; ``has_trade`` says whether accepting executed a trade (HOLDs do not);
    ``actual_shares`` is NaN where nothing was traded. Rows are put in time order here.
    """
    import pandas as pd

    if responses.empty:
        return NEUTRAL
    df = responses.sort_values("timestamp", kind="mergesort")
    accepted = df["accepted"].to_numpy(dtype=bool)
    n, k = int(accepted.size), int(accepted.sum())
    overall = smoothed_rate(k, n, prior=OVERALL_PRIOR_RATE, strength=OVERALL_PRIOR_STRENGTH)

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

    confidence = df["confidence"].to_numpy(dtype=float)
    symbols = df["symbol"].astype(str).to_numpy()
    t, below, above = confidence_threshold(confidence, accepted, symbols)
    ceiling, rate_above_c, rate_below_c = (None, None, None)
    risk = np.full(n, np.nan)
    if "risk_score" in df.columns:
        risk = pd.to_numeric(df["risk_score"], errors="coerce").to_numpy(dtype=float)
        ceiling, rate_above_c, rate_below_c = risk_ceiling(risk, accepted, symbols)
    actions_all = df["action"].astype(str).to_numpy() if "action" in df.columns else np.full(n, "")
    symbol_rates, symbol_counts = symbol_preferences(
        symbols,
        actions_all,
        accepted,
        below_threshold=confidence < t if t is not None else np.zeros(n, dtype=bool),
        above_ceiling=risk > ceiling if ceiling is not None else np.zeros(n, dtype=bool),  # an unknown risk clears
    )

    traded = df[accepted & df["has_trade"].to_numpy(dtype=bool)]
    scale, samples = size_scale(traded["recommended_shares"].to_numpy(dtype=float), traded["actual_shares"].to_numpy(dtype=float))
    fraction = size_fraction(traded["recommended_shares"].to_numpy(dtype=float), traded["actual_shares"].to_numpy(dtype=float))
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
        size_fraction=fraction,
    )


def _logit_map(x: FloatArray, y: FloatArray, prior_mean: FloatArray, prior_sd: FloatArray) -> FloatArray:
    """Maximum a posteriori weights of a logistic regression of ``y`` (0/1) on ``x`` with independent normal priors.

    Newton's method on the log posterior (concave: the prior makes it strictly so), from the prior mean; a handful of
    steps reach the optimum to 1e-9 for the dozen weights used here.
    """
    precision = 1.0 / np.square(prior_sd)
    w = prior_mean.astype(float).copy()
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30.0, 30.0)))
        gradient = x.T @ (y - p) - precision * (w - prior_mean)
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x + np.diag(precision)
        step = np.linalg.solve(hessian, gradient)
        w += step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    return w


def symbol_preferences(
    symbols: npt.NDArray[np.str_],
    actions: npt.NDArray[np.str_],
    accepted: npt.NDArray[np.bool_],
    *,
    below_threshold: npt.NDArray[np.bool_],
    above_ceiling: npt.NDArray[np.bool_],
) -> tuple[dict[str, float], dict[str, int]]:
    """``(rates, counts)``: each answered symbol's P(accept) on a card that clears the user's threshold and ceiling,
    and how many such clearing cards of it were answered (see the module docstring, 1).

    The model, in log-odds: an intercept (prior: the user's rate on the cards that clear the threshold and ceiling,
    sd :data:`INTERCEPT_SD`), plus the symbol's effect (prior 0, sd :data:`SYMBOL_EFFECT_SD`), plus the action's
    (prior 0, sd :data:`ACTION_EFFECT_SD`), plus an effect for a card below the threshold and one for a card above
    the ceiling (prior 0, sd :data:`RULE_EFFECT_SD`), fitted by maximum a posteriori (:func:`_logit_map`).
    A symbol's rate is read off with neither rule against the card and the user's own mix of actions, so two users
    who like the same stocks read alike whatever they were shown.
    A symbol whose cards all fell below the threshold keeps an effect near 0 (the rule explains the rejections): its
    rate is the user's average, and its count 0 says nothing was learned about it.
    """
    n = int(symbols.size)
    if n == 0:
        return {}, {}
    acc = np.asarray(accepted, dtype=bool)
    names = sorted({str(s) for s in symbols.tolist()})
    kinds = sorted({str(a) for a in actions.tolist()} - {"", "nan", "None"})
    below = np.asarray(below_threshold, dtype=bool)
    above = np.asarray(above_ceiling, dtype=bool)
    columns = [np.ones(n)]
    columns += [(symbols == s).astype(float) for s in names]
    columns += [(actions == a).astype(float) for a in kinds]
    columns += [below.astype(float), above.astype(float)]
    x = np.column_stack(columns)
    clears = ~below & ~above
    clearing_rate = smoothed_rate(
        float(acc[clears].sum()), float(clears.sum()), prior=OVERALL_PRIOR_RATE, strength=OVERALL_PRIOR_STRENGTH
    )
    prior_mean = np.zeros(x.shape[1])
    prior_mean[0] = _logit(clearing_rate)
    prior_sd = np.concatenate(
        [[INTERCEPT_SD], np.full(len(names), SYMBOL_EFFECT_SD), np.full(len(kinds), ACTION_EFFECT_SD), [RULE_EFFECT_SD] * 2]
    )
    w = _logit_map(x, acc.astype(float), prior_mean, prior_sd)
    symbol_w = w[1 : 1 + len(names)]
    action_w = w[1 + len(names) : 1 + len(names) + len(kinds)]
    mix = np.array([float(np.mean(actions == a)) for a in kinds])
    base = float(w[0] + (mix @ action_w if kinds else 0.0))
    rates = {s: 1.0 / (1.0 + math.exp(-(base + float(symbol_w[i])))) for i, s in enumerate(names)}
    counts = {s: int((clears & (symbols == s)).sum()) for s in names}
    return rates, counts


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


def ranking_tier(action: str, side: str, *, reason: str | None = None, weight_after: float | None = None) -> int:
    """:data:`TIER_HELD_SELL` for a sale of held shares the risk rules call for (never buried), else :data:`TIER_OTHER`.

    The risk rules call for a sale when the position is above the profile's cap (the sizing ``reason`` is
    :data:`~recommendations.core.sizing.WEIGHT_LIMIT`) or when the policy holds none of the stock (the sale leaves
    ``weight_after`` 0). A partial sale down to a lower target weight is a rebalancing the user may decline like
    any other trade: it is ordered (and may be folded) by P(accept). Without the sizing facts (``reason`` None) every
    sale of held shares counts as called for.

    Trades and HOLDs share a tier: a HOLD the user is likely to act on may come before a trade they usually
    decline; only P(accept) orders them.
    """
    if action != sizing.SELL or side != sizing.SIDE_SELL:
        return TIER_OTHER
    if reason is None or reason == sizing.WEIGHT_LIMIT or (weight_after is not None and weight_after <= 1e-9):
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


@dataclass(frozen=True)
class LearnedSummary:
    """What a person revealed, in the words and numbers the Settings page and the operators' admin show."""

    answers: int
    acceptance_rate: float | None
    symbols: list[tuple[str, float, int]]  # (symbol, smoothed acceptance rate, answers), most accepted first
    actions: list[tuple[str, float, int]]
    confidence_threshold: float | None
    risk_ceiling: float | None
    size_fraction: float | None
    size_scale: float
    cards_read: float | None
    lines: list[str]


def learned_summary(profile: Profile) -> LearnedSummary:
    """:class:`LearnedSummary` of ``profile``: only what the answers showed; nothing is said about what is unknown."""
    # A symbol none of whose cards cleared the threshold and ceiling has only its prior: nothing to say about it.
    symbols = sorted(
        ((s, r, profile.symbol_counts.get(s, 0)) for s, r in profile.symbol_rates.items() if profile.symbol_counts.get(s, 0)),
        key=lambda t: (-t[1], t[0]),
    )
    actions = sorted(
        ((a, r, profile.action_counts.get(a, 0)) for a, r in profile.action_rates.items() if a in DECISION_ACTIONS),
        key=lambda t: (-t[1], t[0]),
    )
    lines: list[str] = []
    if profile.responses == 0:
        lines.append("Nothing yet: QuantAI learns from your answers to BUY and SELL cards.")
    else:
        lines.append(
            f"You accepted {100 * profile.accepted / profile.responses:.0f} % of {profile.responses} BUY and SELL cards."
        )
        if len(symbols) >= 2:
            lines.append(f"You act most on {symbols[0][0]} and least on {symbols[-1][0]}.")
        if len(actions) == 2 and abs(actions[0][1] - actions[1][1]) >= 0.1:
            lines.append(f"You take {actions[0][0]} cards more readily than {actions[1][0]} cards.")
        if profile.confidence_threshold is not None:
            lines.append(f"You usually reject cards below {100 * profile.confidence_threshold:.0f} % confidence.")
        if profile.risk_ceiling is not None:
            lines.append(f"You usually reject cards with a risk score above {100 * profile.risk_ceiling:.0f} / 100.")
        if profile.size_fraction is not None:
            lines.append(f"You trade about {100 * profile.size_fraction:.0f} % of the recommended size.")
        if profile.cards_read is not None:
            lines.append(f"You answer about {profile.cards_read:g} cards a day.")
    return LearnedSummary(
        answers=profile.responses,
        acceptance_rate=profile.acceptance_rate if profile.responses else None,
        symbols=symbols,
        actions=actions,
        confidence_threshold=profile.confidence_threshold,
        risk_ceiling=profile.risk_ceiling,
        size_fraction=profile.size_fraction,
        size_scale=profile.size_scale,
        cards_read=profile.cards_read,
        lines=lines,
    )
