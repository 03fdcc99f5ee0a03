"""The acceptance model: a Random Forest predicting P(the user accepts) a recommendation, trained nightly on all answers.

Features (:func:`feature_matrix`): the recommendation's action (one-hot), confidence, risk score, symbol
(one-hot), size as a share of the portfolio; the user's risk tolerance and experience (ordinal) and history:
their smoothed acceptance rate, their smoothed rates for the symbol and for the action (a user who declines
HOLDs, or who takes sales gladly) and log(1 + answers so far). An artifact trained before the action rate
existed keeps working: it selects its own feature columns. In training the
history features of an answer are computed from that user's *earlier* answers only (:func:`history_features`),
which is what generation sees: the stored profile, learned from the answers before the day.

Its P(accept), averaged in log-odds with the user's profile estimate, orders the day's cards
(:mod:`recommendations.services.personalise`): sales of held shares first, then every other card, trades and
HOLDs alike, by that score at a resolution of :data:`recommendations.personalisation.RANK_RESOLUTION`.

Training (:func:`acceptance_model_train`) sorts the answers by response time, scores the forest with
time-ordered cross-validation (each fold trains on the past, tests on the following block; AUC per fold),
then fits on everything and stores the artifact. It is deterministic for a given seed (a single thread),
skipped with a reason when there are too few answers (or too few of either kind), and skipped when the
training data are unchanged since the newest version.

Artifacts live in the one artifact store of every model kind, :mod:`learning.registry`: written under
``settings.MODELS_DIR / "acceptance"`` to a temporary file then renamed (``artifact_store``), sha256 recorded in
:class:`~recommendations.models.AcceptanceModelVersion`, and read back only as verified bytes (``artifact_bytes``);
a mismatch means "no model" and nothing is unpickled. scikit-learn is imported inside
the functions that need it: importing this module (the web process does, through the services) stays cheap.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from recommendations import personalisation as pers

if TYPE_CHECKING:  # pandas is imported by the functions that build frames: the web process never does
    import pandas as pd

logger = logging.getLogger(__name__)

FORMAT_VERSION: Final = 1
KIND: Final = "acceptance"
#: Fewer answers than this (or fewer than MIN_PER_CLASS accepts or rejects) and nothing is trained.
MIN_RESPONSES: Final = 50
MIN_PER_CLASS: Final = 10
CV_SPLITS: Final = 5
#: Only the most recent answers are trained on (history features still see all): bounded time and memory.
MAX_TRAINING_ROWS: Final = 100_000
HYPERPARAMETERS: Final[dict[str, Any]] = {
    "n_estimators": 150,
    "max_depth": 10,  # at most 1,024 leaves a tree: the artifact stays a few MB whatever the number of answers
    "min_samples_leaf": 5,
    "max_features": "sqrt",
    "n_jobs": 1,  # one thread: the same seed gives the same trees
}
ACTIONS: Final = ("BUY", "SELL", "HOLD")
RISK_LEVELS: Final = {"Conservative": 0.0, "Moderate": 1.0, "Aggressive": 2.0}
EXPERIENCE_LEVELS: Final = {"Beginner": 0.0, "Intermediate": 1.0, "Advanced": 2.0}
#: Columns one recommendation needs (:func:`feature_matrix`).
INPUT_COLUMNS: Final = (
    "action",
    "confidence",
    "risk_score",
    "symbol",
    "size_pct",
    "risk_tolerance",
    "experience",
    "user_rate",
    "user_symbol_rate",
    "user_action_rate",
    "user_responses",
)

FloatArray = npt.NDArray[np.float64]


# --- numerical core (no Django) ----------------------------------------------------------------------------------


def feature_names(symbols: list[str] | tuple[str, ...]) -> list[str]:
    return [
        *(f"action_{a}" for a in ACTIONS),
        "confidence",
        "risk_score",
        "size_pct",
        *(f"symbol_{s}" for s in symbols),
        "risk_level",
        "experience_level",
        "user_rate",
        "user_symbol_rate",
        "user_action_rate",
        "user_log_responses",
    ]


def feature_matrix(frame: pd.DataFrame, symbols: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """The model's input columns (:func:`feature_names`) from a frame with :data:`INPUT_COLUMNS`."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for a in ACTIONS:
        out[f"action_{a}"] = (frame["action"] == a).astype(float)
    out["confidence"] = frame["confidence"].astype(float)
    out["risk_score"] = frame["risk_score"].astype(float).fillna(0.0)
    out["size_pct"] = frame["size_pct"].astype(float).fillna(0.0)
    for s in symbols:
        out[f"symbol_{s}"] = (frame["symbol"] == s).astype(float)
    out["risk_level"] = frame["risk_tolerance"].map(RISK_LEVELS).astype(float).fillna(1.0)
    out["experience_level"] = frame["experience"].map(EXPERIENCE_LEVELS).astype(float).fillna(0.0)
    out["user_rate"] = frame["user_rate"].astype(float)
    out["user_symbol_rate"] = frame["user_symbol_rate"].astype(float)
    # A frame from before the action rate existed: the user's overall rate (what a never-seen action gets).
    out["user_action_rate"] = (frame["user_action_rate"] if "user_action_rate" in frame else frame["user_rate"]).astype(float)
    out["user_log_responses"] = np.log1p(frame["user_responses"].astype(float))
    return out[feature_names(symbols)]


def history_features(answers: pd.DataFrame) -> pd.DataFrame:
    """``answers`` (columns ``user_id``, ``timestamp``, ``symbol``, ``accepted``, optionally ``action``) in time order,
    with each answer's ``user_rate``, ``user_symbol_rate``, ``user_action_rate`` and ``user_responses`` computed
    from the same user's earlier answers only (without an ``action`` column the action rate is the user's rate).

    The smoothing is the profile's (:mod:`recommendations.personalisation`), so training sees the numbers that
    generation will read from a stored profile.
    """
    df = answers.sort_values(["timestamp", "user_id"], kind="mergesort").reset_index(drop=True)
    acc = df["accepted"].astype(float)
    by_user = df.groupby("user_id", sort=False)
    prior_n = by_user.cumcount().astype(float)
    prior_acc = acc.groupby(df["user_id"]).cumsum() - acc
    by_pair = df.groupby(["user_id", "symbol"], sort=False)
    prior_sym_n = by_pair.cumcount().astype(float)
    prior_sym_acc = acc.groupby([df["user_id"], df["symbol"]]).cumsum() - acc
    strength = pers.OVERALL_PRIOR_STRENGTH
    user_rate = (prior_acc + strength * pers.OVERALL_PRIOR_RATE) / (prior_n + strength)
    k = pers.SYMBOL_PRIOR_STRENGTH
    df["user_rate"] = user_rate
    df["user_symbol_rate"] = (prior_sym_acc + k * user_rate) / (prior_sym_n + k)
    if "action" in df.columns:
        by_action = df.groupby(["user_id", "action"], sort=False)
        prior_act_n = by_action.cumcount().astype(float)
        prior_act_acc = acc.groupby([df["user_id"], df["action"]]).cumsum() - acc
        ka = pers.ACTION_PRIOR_STRENGTH
        df["user_action_rate"] = (prior_act_acc + ka * user_rate) / (prior_act_n + ka)
    else:
        df["user_action_rate"] = user_rate
    df["user_responses"] = prior_n
    return df


def _forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed, **HYPERPARAMETERS)


def _positive_proba(forest: Any, x: FloatArray) -> FloatArray:
    classes = list(forest.classes_)
    if 1 not in classes:
        return np.zeros(x.shape[0])
    return np.asarray(forest.predict_proba(x)[:, classes.index(1)], dtype=float)


def cross_validated_auc(x: FloatArray, y: npt.NDArray[np.int64], *, seed: int, n_splits: int = CV_SPLITS) -> list[float]:
    """AUC of each time-ordered fold (rows must be in time order): train on the past, test on the next block.

    Folds whose training or test block holds a single class have no AUC and are left out.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import TimeSeriesSplit

    aucs: list[float] = []
    for train_idx, test_idx in TimeSeriesSplit(n_splits=n_splits).split(x):
        if len(np.unique(y[train_idx])) < 2 or len(np.unique(y[test_idx])) < 2:
            continue
        forest = _forest(seed).fit(x[train_idx], y[train_idx])
        aucs.append(float(roc_auc_score(y[test_idx], _positive_proba(forest, x[test_idx]))))
    return aucs


def prequential_quality(x: FloatArray, y: npt.NDArray[np.int64], *, seed: int, blocks: int = CV_SPLITS) -> Any:
    """Time-ordered quality (:func:`recommendations.prequential.prequential_blocks`; rows in time order): each block
    scored by a forest trained on the rows before it only, as the nightly retraining would have. Its block AUCs are
    :func:`cross_validated_auc`'s folds (same cut, same seed); it adds the pooled AUC, Brier score and reliability."""
    from recommendations import prequential

    def fit(past: list[FloatArray], labels: FloatArray) -> Any:
        if len(np.unique(labels)) < 2:
            return None
        forest = _forest(seed).fit(np.vstack(past), labels.astype(np.int64))
        return lambda block: _positive_proba(forest, np.vstack(block))

    rows = list(x)
    return prequential.prequential_blocks(rows, list(y), list(range(len(rows))), fit, blocks=blocks)


@dataclass
class AcceptanceModel:
    """A fitted forest and the column order it expects."""

    symbols: list[str]
    features: list[str]
    forest: Any
    format_version: int = FORMAT_VERSION

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        """P(accept) for each row of ``frame`` (columns :data:`INPUT_COLUMNS`)."""
        if frame.empty:
            return np.zeros(0)
        x = feature_matrix(frame, self.symbols)[self.features].to_numpy(dtype=float)
        return _positive_proba(self.forest, x)

    def importances(self) -> list[tuple[str, float]]:
        """``(feature, mean decrease in impurity)``, largest first."""
        pairs = zip(self.features, (float(v) for v in self.forest.feature_importances_), strict=True)
        return sorted(pairs, key=lambda p: (-p[1], p[0]))

    def dumps(self) -> bytes:
        payload = {
            "format_version": self.format_version,
            "symbols": self.symbols,
            "features": self.features,
            "forest": self.forest,
        }
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)

    def save(self, path: Path) -> None:
        Path(path).write_bytes(self.dumps())

    @classmethod
    def loads(cls, data: bytes) -> AcceptanceModel:
        """Only for bytes whose sha256 was verified against the registry (unpickling runs code)."""
        payload = pickle.load(io.BytesIO(data))  # noqa: S301 - verified bytes only, see acceptance_model_load
        if payload.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"acceptance model format {payload.get('format_version')} is not {FORMAT_VERSION}")
        return cls(symbols=list(payload["symbols"]), features=list(payload["features"]), forest=payload["forest"])


def fit_acceptance(frame: pd.DataFrame, y: npt.NDArray[np.int64], *, symbols: list[str], seed: int) -> AcceptanceModel:
    """Fit the forest on every row of ``frame`` (columns :data:`INPUT_COLUMNS`) with labels ``y`` (1 = accepted)."""
    features = feature_names(symbols)
    x = feature_matrix(frame, symbols)[features].to_numpy(dtype=float)
    return AcceptanceModel(symbols=list(symbols), features=features, forest=_forest(seed).fit(x, y))


def frame_hash(frame: pd.DataFrame, *, seed: int) -> str:
    """sha256 of the training rows, the seed, the hyperparameters and the format: equal hash, same model."""
    digest = hashlib.sha256()
    digest.update(f"{FORMAT_VERSION}|{seed}|{sorted(HYPERPARAMETERS.items())}|".encode())
    digest.update(frame.to_csv(index=False, float_format="%.8g").encode())
    return digest.hexdigest()


# --- Django side: training data, the registry, loading ------------------------------------------------------------


@dataclass
class TrainResult:
    trained: bool
    reason: str
    version: Any = None  # AcceptanceModelVersion
    metrics: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if not self.trained:
            return f"Acceptance model not trained: {self.reason}"
        auc = self.metrics.get("auc_mean")
        auc_text = f"{auc:.3f}" if isinstance(auc, float) and math.isfinite(auc) else "n/a"
        answers = self.metrics.get("responses")
        return f"Acceptance model v{self.version.version} trained on {answers} answers; time-ordered CV AUC {auc_text}"


def answers_frame(*, user_ids: list[int] | None = None) -> pd.DataFrame:
    """Every answered (accepted or rejected) recommendation, one row each, in response-time order.

    Columns: ``id``, ``user_id``, ``timestamp``, ``symbol``, ``action``, ``confidence``, ``risk_score``,
    ``size_pct`` (recommended value / the equity it was sized against), ``accepted``, ``has_trade``,
    ``recommended_shares``, ``actual_shares`` (NaN where nothing was traded), ``risk_tolerance``, ``experience``.
    """
    import pandas as pd

    from recommendations.models import Recommendation, RecommendationStatus

    qs = Recommendation.objects.filter(
        status__in=[RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED], user_response_timestamp__isnull=False
    )
    if user_ids is not None:
        qs = qs.filter(user_id__in=user_ids)
    rows = qs.order_by("user_response_timestamp", "id").values_list(
        "id",
        "user_id",
        "user_response_timestamp",
        "symbol",
        "recommendation_type",
        "confidence_score",
        "risk_score",
        "recommended_shares",
        "recommended_price",
        "model_features",
        "user_accepted",
        "actual_shares_traded",
        "user__risk_tolerance",
        "user__investment_experience",
    )
    records = []
    for pk, uid, ts, symbol, action, conf, risk, shares, price, features, accepted, actual, tol, exp in rows:
        equity = sizing_equity(features)
        value = float(shares) * float(price)
        records.append(
            {
                "id": pk,
                "user_id": uid,
                "timestamp": ts,
                "symbol": symbol,
                "action": action,
                "confidence": float(conf),
                "risk_score": float(risk) if risk is not None else 0.0,
                "size_pct": value / equity if equity > 0 else 0.0,
                "accepted": bool(accepted),
                "has_trade": actual is not None,  # responding records actual shares only when a trade executed
                "recommended_shares": float(shares),
                "actual_shares": float(actual) if actual is not None else math.nan,
                "risk_tolerance": tol,
                "experience": exp,
            }
        )
    columns = [
        "id",
        "user_id",
        "timestamp",
        "symbol",
        "action",
        "confidence",
        "risk_score",
        "size_pct",
        "accepted",
        "has_trade",
        "recommended_shares",
        "actual_shares",
        "risk_tolerance",
        "experience",
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def sizing_equity(model_features: Any) -> float:
    try:
        return float((model_features or {}).get("sizing", {}).get("equity") or 0.0)
    except (TypeError, ValueError, AttributeError):
        return 0.0


def acceptance_model_train(*, seed: int = 0, force: bool = False) -> TrainResult:
    """Train the acceptance model on every answer so far and register it (see the module docstring).

    Returns without training (``trained=False`` and the reason) when there are fewer than
    :data:`MIN_RESPONSES` answers or fewer than :data:`MIN_PER_CLASS` of either kind, or when the training
    data hash equals the newest version's (unless ``force``).
    """
    from learning.ml.models.base import library_versions
    from learning.registry import artifact_store
    from market.symbols import TRADABLE
    from recommendations.models import AcceptanceModelVersion

    answers = answers_frame()
    n = len(answers)
    accepted = int(answers["accepted"].sum()) if n else 0
    if n < MIN_RESPONSES:
        return TrainResult(False, f"only {n} answered recommendations; at least {MIN_RESPONSES} are needed")
    if min(accepted, n - accepted) < MIN_PER_CLASS:
        return TrainResult(False, f"{accepted} accepted and {n - accepted} rejected; at least {MIN_PER_CLASS} of each are needed")
    frame = history_features(answers).tail(MAX_TRAINING_ROWS).reset_index(drop=True)
    data_hash = frame_hash(frame[["id", "user_id", *INPUT_COLUMNS, "accepted"]], seed=seed)
    newest = AcceptanceModelVersion.objects.order_by("-version").first()
    if newest is not None and newest.data_hash == data_hash and not force:
        return TrainResult(False, f"the answers are unchanged since v{newest.version}", version=newest, metrics=newest.metrics)

    symbols = list(TRADABLE)
    y = frame["accepted"].to_numpy(dtype=np.int64)
    x = feature_matrix(frame, symbols).to_numpy(dtype=float)
    quality = prequential_quality(x, y, seed=seed)
    aucs = quality.block_aucs
    model = fit_acceptance(frame, y, symbols=symbols, seed=seed)
    metrics: dict[str, Any] = {
        "responses": n,
        "accepted": accepted,
        "base_rate": accepted / n,
        "auc_folds": [round(a, 6) for a in aucs],
        "auc_mean": float(np.mean(aucs)) if aucs else math.nan,
        "cv": f"time-ordered, {CV_SPLITS} splits",
        "prequential": quality.as_dict(),
    }
    importance = [[name, round(value, 6)] for name, value in model.importances()]
    number = (newest.version + 1) if newest is not None else 1
    stored = artifact_store(model, kind=KIND, name=f"{KIND}-v{number}-{data_hash[:12]}")
    version = AcceptanceModelVersion.objects.create(
        version=number,
        data_hash=data_hash,
        responses=n,
        users=int(frame["user_id"].nunique()),
        features=model.features,
        hyperparameters={**HYPERPARAMETERS, "random_state": seed},
        library_versions=library_versions("scikit-learn"),
        metrics={k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()},
        feature_importance=importance,
        artifact_path=stored.path,
        artifact_sha256=stored.sha256,
        artifact_size=stored.size,
        format_version=FORMAT_VERSION,
    )
    result = TrainResult(True, "", version=version, metrics=metrics)
    logger.info(result.describe())
    return result


def acceptance_model_load() -> tuple[AcceptanceModel | None, Any]:
    """The newest acceptance model and its version row, or ``(None, None)``: no version, or its artifact fails
    verification (missing, altered, outside ``MODELS_DIR``) or cannot be read. An unverified file is never unpickled."""
    from learning.registry import artifact_bytes
    from recommendations.models import AcceptanceModelVersion

    version = AcceptanceModelVersion.objects.order_by("-version").first()
    if version is None:
        return None, None
    data = artifact_bytes(version)  # verified against the recorded sha256, else None (logged as refused)
    if data is None:
        return None, None
    try:
        return AcceptanceModel.loads(data), version
    except (pickle.UnpicklingError, ValueError, KeyError, AttributeError, ImportError, EOFError) as exc:
        logger.error("acceptance model v%s could not be loaded: %s", version.version, exc)
        return None, None
