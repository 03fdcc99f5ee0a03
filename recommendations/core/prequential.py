"""Prequential (time-ordered) quality of the personalisation models: each answer is scored by the model as it stood
*before* that answer, then the answer is revealed to it. Pure numpy: no Django, no scikit-learn.

Two ways a model learns, two evaluations, one guarantee:

- :func:`prequential_online` for a model updated after every answer (the contextual bandit): the loop hands the
  learner each answer's context (never its label) to predict, records the prediction, and only then calls
  ``learn`` with the label;
- :func:`prequential_blocks` for a model retrained in batches (the acceptance model, retrained nightly): the answers
  are cut into consecutive blocks; the block's answers are scored by a model ``fit`` on the answers before the
  block only (the first block is the first model's training data and is not scored).

In both the evaluation sorts the answers by time itself (stable: equal times keep their given order) and keeps the
labels to itself, so a model that predicts from the future cannot be written against it: at prediction time it has
been shown the past and the present context, nothing else.

The figures (:class:`Quality`): the number of scored answers and of accepts, the AUC (Mann-Whitney, ties counted
half; ``None`` with a single class), the Brier score and a reliability table of :data:`RELIABILITY_BINS` equal-width
bins of the predicted P(accept) (empty bins left out): mean prediction against the share accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from recommendations.core import bandit

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

RELIABILITY_BINS: Final = 10
#: Batches of the block evaluation: the same cut as scikit-learn's ``TimeSeriesSplit(n_splits=5)``.
BLOCKS: Final = 5


# --- the figures ---------------------------------------------------------------------------------------------------


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve: P(a random accept scores above a random reject), ties half; ``None`` with one class."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s), dtype=float)
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    answers: int
    mean_predicted: float
    accepted_rate: float


def reliability_table(labels: npt.ArrayLike, scores: npt.ArrayLike, *, bins: int = RELIABILITY_BINS) -> list[ReliabilityBin]:
    """Equal-width bins of the prediction on [0, 1] (the last includes 1); empty bins are left out."""
    if not 1 <= bins <= RELIABILITY_BINS:
        raise ValueError(f"between 1 and {RELIABILITY_BINS} bins")
    y = np.asarray(labels, dtype=float)
    s = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    index = np.minimum((s * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            out.append(
                ReliabilityBin(
                    lower=round(b / bins, 6),
                    upper=round((b + 1) / bins, 6),
                    answers=int(mask.sum()),
                    mean_predicted=float(s[mask].mean()),
                    accepted_rate=float(y[mask].mean()),
                )
            )
    return out


@dataclass(frozen=True)
class Quality:
    """Time-ordered quality of one model over the answers it scored."""

    answers: int
    accepted: int
    auc: float | None
    brier: float | None
    reliability: list[ReliabilityBin] = field(default_factory=list)
    block_aucs: list[float] = field(default_factory=list)  # block evaluation only: AUC of each block with both classes

    def as_dict(self) -> dict[str, Any]:
        return {
            "answers": self.answers,
            "accepted": self.accepted,
            "auc": None if self.auc is None else round(self.auc, 6),
            "brier": None if self.brier is None else round(self.brier, 6),
            "reliability": [
                {
                    "lower": b.lower,
                    "upper": b.upper,
                    "answers": b.answers,
                    "mean_predicted": round(b.mean_predicted, 6),
                    "accepted_rate": round(b.accepted_rate, 6),
                }
                for b in self.reliability
            ],
            "block_aucs": [round(a, 6) for a in self.block_aucs],
        }


def quality(labels: npt.ArrayLike, scores: npt.ArrayLike, *, block_aucs: Sequence[float] = ()) -> Quality:
    y = np.asarray(labels, dtype=float)
    s = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    n = len(y)
    return Quality(
        answers=n,
        accepted=int(y.sum()),
        auc=auc(y, s),
        brier=float(np.mean((s - y) ** 2)) if n else None,
        reliability=reliability_table(y, s),
        block_aucs=list(block_aucs),
    )


# --- the two evaluations -------------------------------------------------------------------------------------------


class OnlineLearner(Protocol[T_contra]):
    def predict(self, item: T_contra) -> float: ...

    def learn(self, item: T_contra, accepted: bool) -> None: ...


def _time_order(n: int, times: Sequence[Any], labels: Sequence[Any]) -> list[int]:
    if len(times) != n or len(labels) != n:
        raise ValueError("items, labels and times must have the same length")
    return sorted(range(n), key=lambda i: times[i])  # stable: equal times keep their order


def prequential_online(items: Sequence[T], labels: Sequence[Any], times: Sequence[Any], learner: OnlineLearner[T]) -> Quality:
    """Score every answer, in time order, by ``learner`` as it stood before the answer; then teach it the answer."""
    order = _time_order(len(items), times, labels)
    predictions = np.empty(len(order))
    ys = np.empty(len(order))
    for k, i in enumerate(order):
        predictions[k] = float(learner.predict(items[i]))  # the label is not in reach yet
        ys[k] = 1.0 if labels[i] else 0.0
        learner.learn(items[i], bool(labels[i]))
    return quality(ys, predictions)


#: ``fit(past items, past labels)`` returns a scorer of new items' P(accept), or ``None`` when it cannot be trained.
BatchFit = Callable[[list[T], FloatArray], Callable[[list[T]], Sequence[float]] | None]


def block_starts(n: int, blocks: int = BLOCKS) -> list[int]:
    """Where each scored block starts: ``TimeSeriesSplit``'s cut (equal test blocks, the rest trains first)."""
    size = n // (blocks + 1)
    if size == 0:
        return []
    first = n - blocks * size
    return [first + k * size for k in range(blocks)]


def prequential_blocks(
    items: Sequence[T], labels: Sequence[Any], times: Sequence[Any], fit: BatchFit[T], *, blocks: int = BLOCKS
) -> Quality:
    """Score each block of answers (time order) by a model fitted on the answers before the block only.

    A block whose model cannot be trained (``fit`` returned ``None``) is not scored.
    """
    order = _time_order(len(items), times, labels)
    ordered = [items[i] for i in order]
    ys = np.asarray([1.0 if labels[i] else 0.0 for i in order], dtype=float)
    starts = block_starts(len(order), blocks)
    scored_y: list[FloatArray] = []
    scored_p: list[FloatArray] = []
    block_aucs: list[float] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(order)
        scorer = fit(ordered[:start], ys[:start].copy())
        if scorer is None:
            continue
        p = np.asarray(scorer(ordered[start:end]), dtype=float)
        if p.shape != (end - start,):
            raise ValueError("the scorer must return one prediction per item")
        scored_y.append(ys[start:end])
        scored_p.append(p)
        block_auc = auc(ys[start:end], p)
        if block_auc is not None:
            block_aucs.append(block_auc)
    if not scored_y:
        return quality(np.zeros(0), np.zeros(0))
    return quality(np.concatenate(scored_y), np.concatenate(scored_p), block_aucs=block_aucs)


# --- the bandit as an online learner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BanditAnswer:
    """One answer as the bandit sees it before the label: who answered (and their questionnaire group) and the card."""

    user_id: int
    group: Any
    context: FloatArray


@dataclass
class BanditLearner:
    """The bandit's posterior mean P(accept) (:func:`recommendations.core.bandit.posterior`, no Thompson noise), on the
    population prior of the user's questionnaire group pooled from the *other* users' answers so far, as at
    generation (:func:`recommendations.services.personalise.bandit_prior`)."""

    users: dict[int, bandit.ArmStats] = field(default_factory=dict)
    groups: dict[Any, bandit.ArmStats] = field(default_factory=dict)

    def predict(self, item: BanditAnswer) -> float:
        own = self.users.get(item.user_id, bandit.ArmStats())
        others = dict(self.groups)
        if own.n and item.group in others:
            g = others[item.group]
            others[item.group] = bandit.ArmStats(g.xtx - own.xtx, g.xty - own.xty, g.n - own.n)
        prior = bandit.population_prior(others, item.group)
        mean = bandit.ridge_mean(own, prior_mean=prior, strength=bandit.PRIOR_STRENGTH)
        return float(np.clip(item.context @ mean, 0.0, 1.0))

    def learn(self, item: BanditAnswer, accepted: bool) -> None:
        reward = 1.0 if accepted else 0.0
        self.users.setdefault(item.user_id, bandit.ArmStats()).update(item.context, reward)
        self.groups.setdefault(item.group, bandit.ArmStats()).update(item.context, reward)


def bandit_quality(items: Sequence[BanditAnswer], labels: Sequence[Any], times: Sequence[Any]) -> Quality:
    """The bandit's prequential quality on these answers (a fresh bandit: nobody has answered before the first)."""
    return prequential_online(items, labels, times, BanditLearner())


def finite_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
