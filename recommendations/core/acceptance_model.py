"""The acceptance model's numbers: a Random Forest predicting P(the user accepts) a recommendation. No Django.

Features (:func:`feature_matrix`): the recommendation's action (one-hot), confidence, risk score, symbol
(one-hot), size as a share of the portfolio; the user's risk tolerance and experience (ordinal) and history:
their smoothed acceptance rate, their smoothed rates for the symbol and for the action (a user who declines
HOLDs, or who takes sales gladly) and log(1 + answers so far). An artifact trained before the action rate
existed keeps working: it selects its own feature columns. In training the history features of an answer are
computed from that user's *earlier* answers only (:func:`history_features`), which is what generation sees: the
stored profile, learned from the answers before the day.

Quality is time-ordered: :func:`cross_validated_auc` (each fold trains on the past, tests on the following block)
and :func:`prequential_quality` (the same blocks, with the pooled AUC, Brier score and reliability). The forest is
deterministic for a given seed (a single thread). :class:`AcceptanceModel` is the fitted forest and its column
order, and its artifact bytes (:meth:`AcceptanceModel.dumps` / :meth:`AcceptanceModel.loads`).

Reading the answers from the database, training on them nightly, storing and loading the artifact is
:mod:`recommendations.acceptance`. pandas and scikit-learn are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from recommendations.core import learned_profile

if TYPE_CHECKING:  # pandas is imported by the functions that build frames: the web process never does
    import pandas as pd

FORMAT_VERSION: Final = 1
CV_SPLITS: Final = 5
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

    The smoothing is the profile's (:mod:`recommendations.core.learned_profile`), so training sees the numbers that
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
    strength = learned_profile.OVERALL_PRIOR_STRENGTH
    user_rate = (prior_acc + strength * learned_profile.OVERALL_PRIOR_RATE) / (prior_n + strength)
    k = learned_profile.SYMBOL_PRIOR_STRENGTH
    df["user_rate"] = user_rate
    df["user_symbol_rate"] = (prior_sym_acc + k * user_rate) / (prior_sym_n + k)
    if "action" in df.columns:
        by_action = df.groupby(["user_id", "action"], sort=False)
        prior_act_n = by_action.cumcount().astype(float)
        prior_act_acc = acc.groupby([df["user_id"], df["action"]]).cumsum() - acc
        ka = learned_profile.ACTION_PRIOR_STRENGTH
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
    """Time-ordered quality (:func:`recommendations.core.prequential.prequential_blocks`; rows in time order): each block
    scored by a forest trained on the rows before it only, as the nightly retraining would have. Its block AUCs are
    :func:`cross_validated_auc`'s folds (same cut, same seed); it adds the pooled AUC, Brier score and reliability."""
    from recommendations.core import prequential

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
        payload = pickle.load(io.BytesIO(data))  # noqa: S301 - verified bytes only, see recommendations.acceptance.acceptance_model_load
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
