"""Training a candidate for the model registry, and the promotion gate's rule. Pure numpy/pandas, no Django.

What a training run does with a panel of bars (:func:`train_candidate`):

1. build the dataset (features and labels over the horizon H of the config);
2. walk-forward evidence: the last ``eval_folds`` calendar-year folds (expanding training window, purged,
   with an embargo of ``embargo`` sessions), each scored for every base model and the ensemble next to the
   baselines by :mod:`learning.ml.evaluation`. A last year with fewer than ``min_fold_days`` test sessions
   (early January) is left out: a few days of returns say nothing. The most recent fold kept is the
   *gate fold*, the one the promotion gate compares on;
3. the production model: the ensemble refitted on every labelled row;
4. what the predictor needs beside the model: per symbol, the average forward return over H of the
   training rows that went up and of those that did not (see :func:`expected_return`), and the feature
   importances and reliability bins shown on the Learning page;
5. the evidence of an *edge*, per kind, from the predictions of all evaluation folds pooled (each one out of
   sample for the whole recipe, combiner and calibrator included): its demonstrated skill overall and per
   symbol (:func:`skill_figures`) and whether it has any edge at all (:func:`edge_check`).

The edge rule (applied by the gate before anything else, to the first version of a kind as well): a model
whose predicted probabilities barely move (their standard deviation within an evaluation fold, averaged
over the folds, below ``min_probability_std``, default :data:`MIN_PROBABILITY_STD` = 0.005) or whose AUC
on the evaluation folds is at most ``min_auc`` (default 0.5; AUC counted within each fold, see
:func:`learning.ml.metrics.grouped_auc`) has *no edge* and is never promoted. A constant model (the stacker
keeping only its intercept, or a calibrator with slope 0) is the typical case: every card would be HOLD at
one confidence. Skill for the policy is ``max(0, AUC - 0.5) * 2`` (0 without an edge).

The promotion gate compares *recipes* out of sample, never a model on rows it was trained on: the
active version's numbers on the gate fold are either the ones it stored for the very same fold (same
rows, see :attr:`Candidate.fold_key`), or are recomputed by fitting the active version's hyperparameters
on the gate fold's training rows (:func:`score_recipe`). Its artifact, trained on more recent data, has
seen the gate fold and would look better than it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from learning.ml.data import Panel
from learning.ml.dataset import Dataset, build_dataset
from learning.ml.ensemble import StackedEnsemble
from learning.ml.evaluation import combiner_record, evaluate_fold, next_day_returns, score_predictions
from learning.ml.features import DEFAULT_BENCHMARK, FEATURE_NAMES
from learning.ml.metrics import grouped_auc
from learning.ml.models import make_model
from learning.ml.models.base import FORMAT_VERSION, InsufficientHistory
from learning.ml.validation import Fold, walk_forward_folds

ENSEMBLE = "ensemble"
#: The edge rule's thresholds (see the module doc): std of the out-of-fold P(up) within a fold, and AUC.
MIN_PROBABILITY_STD = 0.005
MIN_AUC = 0.5
#: Fewer evaluation rows than this for a symbol: its skill falls back to the overall figure.
MIN_SYMBOL_ROWS = 100
#: progress(percent 0-100, stage description)
Progress = Callable[[int, str], None]


def _no_progress(percent: int, stage: str) -> None:
    return None


@dataclass(frozen=True)
class TrainingConfig:
    """Everything besides the bars that decides what a training run produces (all of it goes into the data hash)."""

    kinds: tuple[str, ...]
    base_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    horizon: int = 5
    embargo: int = 5
    inner_years: int = 3
    stacker_c: float = 1.0
    calibration: str = "platt"
    seed: int = 0
    eval_folds: int = 3
    min_fold_days: int = 60
    cost_bp: float = 10.0
    benchmark: str = DEFAULT_BENCHMARK
    features: tuple[str, ...] = FEATURE_NAMES
    min_probability_std: float = MIN_PROBABILITY_STD
    min_auc: float = MIN_AUC

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError("choose at least one base model")
        if self.eval_folds < 1:
            raise ValueError("eval_folds must be at least 1")

    def base_hyperparameters(self, kind: str) -> dict[str, Any]:
        """The complete hyperparameters of base model ``kind`` (defaults filled in, ``seed`` included)."""
        return make_model(kind, **{"seed": self.seed, **dict(self.base_params.get(kind, {}))}).params

    def ensemble_params(self) -> dict[str, Any]:
        """Keyword arguments of :class:`StackedEnsemble` (base models with complete hyperparameters)."""
        return {
            "base": {kind: self.base_hyperparameters(kind) for kind in self.kinds},
            "horizon": self.horizon,
            "embargo": self.embargo,
            "inner_years": self.inner_years,
            "stacker_c": self.stacker_c,
            "calibration": self.calibration,
            "seed": self.seed,
        }

    def hyperparameters(self, kind: str) -> dict[str, Any]:
        return self.ensemble_params() if kind == ENSEMBLE else self.base_hyperparameters(kind)

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-serialisable description of this config, for the data hash."""
        return {
            "format_version": FORMAT_VERSION,
            "ensemble": self.ensemble_params(),
            "eval_folds": self.eval_folds,
            "min_fold_days": self.min_fold_days,
            "cost_bp": self.cost_bp,
            "benchmark": self.benchmark,
            "features": list(self.features),
            "edge_rule": {"min_probability_std": self.min_probability_std, "min_auc": self.min_auc},
        }


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, so equal values hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# ---- evidence -------------------------------------------------------------------------------


def reliability_bins(p: np.ndarray | pd.Series, y: np.ndarray | pd.Series, *, n_bins: int = 10) -> list[dict[str, float]]:
    """Reliability (calibration) diagram data: predictions cut into ``n_bins`` equally populated bins.

    Each bin gives the mean predicted P(up), the share of rows that went up, and its row count. Quantile
    bins rather than fixed-width ones: daily P(up) sits in a narrow band around the base rate, and fixed
    bins would put nearly every row in one or two of them.
    """
    prob = np.asarray(p, dtype="float64")
    outcome = np.asarray(y, dtype="float64")
    if len(prob) == 0:
        return []
    edges = np.unique(np.quantile(prob, np.linspace(0.0, 1.0, n_bins + 1)))
    if len(edges) < 2:
        return [{"mean_predicted": float(prob.mean()), "observed": float(outcome.mean()), "count": len(prob)}]
    which = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, len(edges) - 2)
    bins = []
    for b in range(len(edges) - 1):
        chosen = which == b
        if chosen.any():
            bins.append(
                {
                    "mean_predicted": round(float(prob[chosen].mean()), 4),
                    "observed": round(float(outcome[chosen].mean()), 4),
                    "count": int(chosen.sum()),
                }
            )
    return bins


def return_stats(data: Dataset) -> dict[str, dict[str, float | int]]:
    """Per symbol (and ``"all"``): mean forward return over H of the rows that went up, of those that did not.

    Fractions, over the labelled training rows. The predictor turns a calibrated P(up) into an expected
    return with them (:func:`expected_return`).
    """
    frame = pd.DataFrame({"y": data.y.to_numpy(), "r": data.fwd_return.to_numpy()}, index=data.X.index)
    out: dict[str, dict[str, float | int]] = {}
    groups = [("all", frame), *((str(sym), part) for sym, part in frame.groupby(level="symbol", sort=True))]
    for name, part in groups:
        up, down = part.loc[part["y"] == 1, "r"], part.loc[part["y"] == 0, "r"]
        out[name] = {
            "rows": len(part),
            "base_rate": round(float(part["y"].mean()), 6) if len(part) else 0.0,
            "avg_up": round(float(up.mean()), 6) if len(up) else 0.0,
            "avg_down": round(float(down.mean()), 6) if len(down) else 0.0,
        }
    return out


def expected_return(p_up: float, stats: Mapping[str, Any]) -> float:
    """``p * avg_up + (1 - p) * avg_down``: the forward return over H that a calibrated P(up) implies.

    If ``p_up`` is calibrated and a row's move, given its direction, is like the training rows' average move
    in that direction, this is the expected return. It is a rough centre, not a forecast of the size of the move:
    the models predict direction only.
    """
    return float(p_up) * float(stats["avg_up"]) + (1.0 - float(p_up)) * float(stats["avg_down"])


def feature_importance(model: Any, *, top: int | None = None) -> dict[str, float]:
    """A fitted model's ``feature_importance()`` as ``{feature: share}`` (empty when it has none)."""
    method = getattr(model, "feature_importance", None)
    if method is None:
        return {}
    series = method()
    if top is not None:
        series = series.head(top)
    return {str(k): round(float(v), 6) for k, v in series.items()}


def fold_key(data: Dataset, fold: Fold) -> str:
    """sha256 of exactly what a fold evaluation reads: its training and test rows, labels and returns.

    Two runs with equal keys scored their recipes on the same question, so their stored numbers compare.
    """
    rows = np.union1d(fold.train, fold.test)
    digest = hashlib.sha256()
    digest.update(f"{fold.name}|{fold.test_start.date()}|{fold.test_end.date()}|{len(fold.train)}|{len(fold.test)}".encode())
    digest.update(pd.util.hash_pandas_object(data.X.iloc[rows], index=True).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(data.y.iloc[rows], index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(data.fwd_return.iloc[rows], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def evaluation_folds(data: Dataset, *, eval_folds: int, embargo: int, min_fold_days: int) -> list[Fold]:
    """The last ``eval_folds`` yearly folds whose test year has at least ``min_fold_days`` sessions (or, if
    none has, the last fold); oldest first. Raises :class:`InsufficientHistory` when the data has no fold at all."""
    folds = walk_forward_folds(data.dates, data.label_end, n_years=eval_folds + 1, embargo=embargo)
    long_enough = [f for f in folds if len(np.unique(data.dates[f.test])) >= min_fold_days]
    chosen = (long_enough or folds[-1:])[-eval_folds:]
    if not chosen:
        raise InsufficientHistory("not enough labelled history for a walk-forward fold")
    return chosen


# ---- skill and the edge rule ------------------------------------------------------------------


def skill_figures(
    p: np.ndarray | pd.Series, y: np.ndarray | pd.Series, base_rate: np.ndarray | pd.Series, folds: np.ndarray | pd.Series
) -> dict[str, float | int | None]:
    """Demonstrated out-of-fold skill of probabilities ``p`` for outcomes ``y`` (0/1).

    ``auc`` counted within each fold (``folds`` labels the rows); ``hit_rate``: share of rows where the
    predicted direction (``p > 0.5``) came true; ``brier_skill``: ``1 - brier / brier`` of always predicting
    ``base_rate`` (the fold's training base rate); ``skill``: ``max(0, auc - 0.5) * 2``, in [0, 1].
    """
    prob = np.asarray(p, dtype="float64")
    outcome = np.asarray(y).astype(int)
    rate = np.asarray(base_rate, dtype="float64")
    if len(prob) == 0:
        return {"rows": 0, "auc": None, "hit_rate": None, "brier_skill": None, "skill": 0.0}
    auc = grouped_auc(outcome, prob, np.asarray(folds))
    brier, brier_clim = float(np.mean((prob - outcome) ** 2)), float(np.mean((rate - outcome) ** 2))
    return {
        "rows": len(prob),
        "auc": None if auc is None else round(auc, 4),
        "hit_rate": round(float(np.mean((prob > 0.5) == outcome)), 4),
        "brier_skill": round(1.0 - brier / brier_clim, 4) if brier_clim > 0 else None,
        "skill": round(max(0.0, auc - 0.5) * 2.0, 4) if auc is not None else 0.0,
    }


def probability_spread(p: np.ndarray | pd.Series, folds: np.ndarray | pd.Series) -> float:
    """Standard deviation of ``p`` within each fold, averaged over the folds (a per-fold constant has 0)."""
    frame = pd.DataFrame({"p": np.asarray(p, dtype="float64"), "fold": np.asarray(folds)})
    spreads = frame.groupby("fold", sort=False)["p"].std(ddof=0)
    return float(spreads.mean()) if len(spreads) else 0.0


def edge_check(
    p: np.ndarray | pd.Series,
    y: np.ndarray | pd.Series,
    folds: np.ndarray | pd.Series,
    *,
    min_probability_std: float = MIN_PROBABILITY_STD,
    min_auc: float = MIN_AUC,
) -> dict[str, Any]:
    """Whether out-of-fold probabilities ``p`` show an edge (see the module doc), with the figures and the reason."""
    spread = probability_spread(p, folds)
    auc = grouped_auc(np.asarray(y).astype(int), np.asarray(p, dtype="float64"), np.asarray(folds)) if len(p) else None
    reasons = []
    if spread < min_probability_std:
        reasons.append(f"its probabilities barely moved (spread {spread:.4f} < {min_probability_std})")
    if auc is None:
        reasons.append("its evaluation folds hold one class only, so it showed no skill")
    elif auc <= min_auc:
        reasons.append(f"it showed no out-of-sample skill (AUC {auc:.2f})")
    return {
        "found": not reasons,
        "reason": "; ".join(reasons),
        "auc": None if auc is None else round(auc, 4),
        "probability_std": round(spread, 6),
        "min_probability_std": min_probability_std,
        "min_auc": min_auc,
        "rows": len(p),
        "folds": [str(f) for f in pd.unique(np.asarray(folds))],
    }


def demonstrated_skill(predictions: pd.DataFrame, column: str, *, edge_found: bool) -> dict[str, Any]:
    """:func:`skill_figures` of ``predictions[column]`` overall and per symbol (symbols with at least
    :data:`MIN_SYMBOL_ROWS` rows and both outcomes). Without an edge every ``skill`` is 0."""

    def figures(part: pd.DataFrame) -> dict[str, Any]:
        out = skill_figures(part[column], part["y"], part["base_rate"], part["fold"])
        if not edge_found:
            out["skill"] = 0.0
        return out

    symbols: dict[str, Any] = {}
    for symbol, part in predictions.groupby(level="symbol", sort=True):
        if len(part) >= MIN_SYMBOL_ROWS and part["y"].nunique() == 2:
            symbols[str(symbol)] = figures(part)
    folds = [str(f) for f in pd.unique(predictions["fold"])]
    return {"overall": figures(predictions), "symbols": symbols, "source": f"walk-forward evaluation folds {', '.join(folds)}"}


# ---- the candidate ----------------------------------------------------------------------------


@dataclass
class Candidate:
    """A trained production ensemble and the evidence about it."""

    config: TrainingConfig
    ensemble: StackedEnsemble
    data: Dataset
    gate_fold: Fold
    fold_key: str
    #: One entry per evaluated fold (oldest first), in the layout of :func:`learning.ml.evaluation.evaluate_split`.
    folds: list[dict[str, Any]]
    reliability: dict[str, list[dict[str, float]]]
    return_stats: dict[str, dict[str, float | int]]
    train_seconds: dict[str, float]
    next_returns: pd.DataFrame
    #: Every evaluation fold's test rows with each model's probability (pooled, oldest fold first).
    predictions: pd.DataFrame

    @property
    def kinds(self) -> list[str]:
        return [*self.config.kinds, ENSEMBLE]

    @property
    def train_start(self) -> pd.Timestamp:
        return self.data.dates.min()

    @property
    def train_end(self) -> pd.Timestamp:
        return self.data.dates.max()

    @property
    def gate_result(self) -> dict[str, Any]:
        return self.folds[-1]

    def edge(self, kind: str) -> dict[str, Any]:
        """:func:`edge_check` of ``kind``'s predictions on the evaluation folds, with the config's thresholds."""
        rows = self.predictions
        return edge_check(
            rows[kind],
            rows["y"],
            rows["fold"],
            min_probability_std=self.config.min_probability_std,
            min_auc=self.config.min_auc,
        )

    def skill(self, kind: str) -> dict[str, Any]:
        """:func:`demonstrated_skill` of ``kind`` on the evaluation folds."""
        return demonstrated_skill(self.predictions, kind, edge_found=bool(self.edge(kind)["found"]))

    def model(self, kind: str) -> Any:
        return self.ensemble if kind == ENSEMBLE else self.ensemble.models[kind]

    def metrics_for(self, kind: str) -> dict[str, Any]:
        """What a ModelVersion of ``kind`` stores as ``metrics`` (plain JSON)."""
        gate = self.gate_result
        metrics: dict[str, Any] = {
            "fold": {"name": gate["fold"], "key": self.fold_key, "train": gate["train"], "test": gate["test"]},
            "gate": gate["models"][kind],
            "folds": [
                {
                    "fold": f["fold"],
                    "train": f["train"],
                    "test": f["test"],
                    "metrics": f["models"][kind],
                    "baselines": f["baselines"],
                }
                for f in self.folds
            ],
            "reliability": self.reliability.get(kind, []),
            "edge": self.edge(kind),
            "skill": self.skill(kind),
            "train_rows": len(self.data),
            "train_seconds": round(self.train_seconds.get(kind, 0.0), 3),
        }
        if kind == ENSEMBLE:
            metrics["weights"] = {k: round(v, 4) for k, v in self.ensemble.weights.items()}
            metrics["combiner"] = combiner_record(self.ensemble)
            metrics["return_stats"] = self.return_stats
            metrics["horizon"] = self.config.horizon
            metrics["feature_importance"] = {
                k: imp for k in self.config.kinds if (imp := feature_importance(self.ensemble.models[k]))
            }
        else:
            metrics["feature_importance"] = feature_importance(self.ensemble.models[kind])
        return json.loads(json.dumps(metrics, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def train_candidate(panel: Panel, config: TrainingConfig, *, progress: Progress = _no_progress) -> Candidate:
    """Walk-forward evidence, then the production ensemble fitted on every labelled row (see the module doc).

    ``progress`` hears percentages from 5 to 95. Raises :class:`InsufficientHistory` when the panel holds too
    little history for the folds and the ensemble's inner walk-forward.
    """
    progress(5, "computing features and labels")
    data = build_dataset(panel, horizon=config.horizon, benchmark=config.benchmark, feature_names=config.features)
    if len(data) == 0:
        raise InsufficientHistory("no labelled rows: every symbol needs more than ~200 sessions of bars, and the benchmark too")
    folds = evaluation_folds(data, eval_folds=config.eval_folds, embargo=config.embargo, min_fold_days=config.min_fold_days)
    symbols = sorted(set(data.X.index.get_level_values("symbol")))
    next_ret = next_day_returns(panel, symbols)
    params = config.ensemble_params()
    steps = len(folds) + 1
    results: list[dict[str, Any]] = []
    fold_predictions: list[pd.DataFrame] = []
    for i, fold in enumerate(folds):
        progress(10 + 80 * i // steps, f"walk-forward fold {fold.name} ({i + 1} of {len(folds)})")
        result, predictions = evaluate_fold(data, fold, next_ret, ensemble_params=params, cost_bp=config.cost_bp)
        results.append(result)
        fold_predictions.append(predictions)
    gate_predictions = fold_predictions[-1]
    progress(10 + 80 * len(folds) // steps, "fitting the production ensemble on all labelled rows")
    started = time.perf_counter()
    ensemble = StackedEnsemble(**params).fit(data.X, data.y)
    train_seconds = dict(ensemble.fit_seconds_)
    train_seconds[ENSEMBLE] = time.perf_counter() - started
    progress(92, "summarising")
    kinds = [*config.kinds, ENSEMBLE]
    reliability = {k: reliability_bins(gate_predictions[k], gate_predictions["y"]) for k in kinds}
    gate = folds[-1]
    return Candidate(
        config=config,
        ensemble=ensemble,
        data=data,
        gate_fold=gate,
        fold_key=fold_key(data, gate),
        folds=results,
        reliability=reliability,
        return_stats=return_stats(data),
        train_seconds=train_seconds,
        next_returns=next_ret,
        predictions=pd.concat(fold_predictions),
    )


def score_recipe(
    candidate: Candidate, *, kind: str, hyperparameters: Mapping[str, Any], features: Sequence[str]
) -> dict[str, Any] | None:
    """Fit ``kind`` with ``hyperparameters`` on ``features`` over the gate fold's training rows and score it
    on the gate fold, like the candidate was scored. ``None`` if the data has no such features any more."""
    data, fold = candidate.data, candidate.gate_fold
    columns = list(features)
    if not columns or any(c not in data.X.columns for c in columns):
        return None
    train, test = data.take(fold.train), data.take(fold.test)
    context = data.features[data.features.index.get_level_values("date") < fold.test_start][columns]
    if kind == ENSEMBLE:
        model: Any = StackedEnsemble(**dict(hyperparameters))
    else:
        model = make_model(kind, **dict(hyperparameters))
    model.fit(train.X[columns], train.y)
    proba = pd.Series(model.predict_proba(test.X[columns], context=context), index=test.X.index)
    base_rate = float(train.y.mean())
    return score_predictions(proba, test, base_rate, candidate.next_returns, candidate.config.cost_bp)


# ---- the promotion gate --------------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str


#: How far below the active version's the candidate's Sharpe ratio on the gate fold may be (see promotion_decision).
SHARPE_MARGIN = 0.5


def promotion_decision(
    candidate: Mapping[str, Any] | None,
    active: Mapping[str, Any] | None,
    *,
    fold: str,
    auc_margin: float = 0.01,
    log_loss_tolerance: float = 1e-6,
    sharpe_margin: float = SHARPE_MARGIN,
    edge: Mapping[str, Any] | None = None,
) -> GateDecision:
    """Whether a candidate with gate-fold metrics ``candidate`` may replace the active version (``active``, same fold).

    First the edge rule: a candidate whose ``edge`` (:func:`edge_check`) was not found is refused, whatever
    the active version, and also when there is none (a constant model never becomes the first version).
    Then it must be at least as good on log loss (up to ``log_loss_tolerance``, float noise) and its ROC AUC
    may not be worse by more than ``auc_margin``: on a few thousand rows AUC moves by about 0.01 between
    equally good models, so a stricter rule would keep a stale model over noise. No active version: promote.

    Last, what its signal would have earned on the gate fold (the most recent year): the Sharpe ratio of its
    long/flat strategy on the fold's symbols after costs (``strategy_sharpe``, the scoreboard's ``ml_only`` policy
    on one year) may not be below the active version's by more than ``sharpe_margin``. A year of daily returns
    estimates a Sharpe ratio to about +-1 (Lo 2002), and two models' strategies on the same stocks move together, so
    their difference is known to about +-0.6: the margin refuses a candidate that clearly trades worse, not noise.
    """
    if edge is not None and not edge.get("found", False):
        return GateDecision(False, f"no edge found: {edge.get('reason') or 'no out-of-sample skill'}")
    if active is None:
        return GateDecision(True, "no active version of this kind")
    if not candidate or not _finite(candidate.get("log_loss")):
        return GateDecision(False, f"the candidate has no log loss on fold {fold}")
    if not _finite(active.get("log_loss")):
        return GateDecision(True, f"the active version has no log loss on fold {fold}")
    c_loss, a_loss = float(candidate["log_loss"]), float(active["log_loss"])
    if c_loss > a_loss + log_loss_tolerance:
        return GateDecision(False, f"log loss {c_loss:.4f} is worse than the active version's {a_loss:.4f} on fold {fold}")
    c_auc, a_auc = candidate.get("auc"), active.get("auc")
    if not (_finite(c_auc) and _finite(a_auc)):
        return GateDecision(True, f"log loss {c_loss:.4f} vs the active version's {a_loss:.4f} on fold {fold}")
    c, a = float(c_auc), float(a_auc)  # type: ignore[arg-type]  # both checked finite above
    if c < a - auc_margin:
        return GateDecision(False, f"AUC {c:.4f} is more than {auc_margin} below the active version's {a:.4f} on fold {fold}")
    reason = f"log loss {c_loss:.4f} vs the active version's {a_loss:.4f}, AUC {c:.4f} vs {a:.4f}"
    c_sharpe, a_sharpe = candidate.get("strategy_sharpe"), active.get("strategy_sharpe")
    if _finite(c_sharpe) and _finite(a_sharpe):
        cs, act = float(c_sharpe), float(a_sharpe)  # type: ignore[arg-type]  # both checked finite
        if cs < act - sharpe_margin:
            return GateDecision(
                False,
                f"its long/flat Sharpe {cs:.2f} is more than {sharpe_margin} below the active version's {act:.2f} on fold {fold}",
            )
        reason += f", long/flat Sharpe {cs:.2f} vs {act:.2f}"
    return GateDecision(True, f"{reason} on fold {fold}")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))
