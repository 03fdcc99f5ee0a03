"""Training, storing and loading the acceptance model (:mod:`recommendations.core.acceptance_model`: the features,
the forest and its time-ordered quality) from the answers in the database.

:func:`answers_frame` reads every answered recommendation; :func:`acceptance_model_train` trains on them nightly
(history features from each user's earlier answers only, time-ordered quality, a fit on everything), skipped with a
reason when there are too few answers (or too few of either kind), and skipped when the training data are unchanged
since the newest version.

Its P(accept), averaged in log-odds with the user's profile estimate, orders the day's cards
(:mod:`recommendations.services.personalise`): sales of held shares first, then every other card, trades and
HOLDs alike, by that score at a resolution of :data:`recommendations.core.learned_profile.RANK_RESOLUTION`.

Artifacts live in the one artifact store of every model kind, :mod:`learning.registry`: written under
``settings.MODELS_DIR / "acceptance"`` to a temporary file then renamed (``artifact_store``), sha256 recorded in
:class:`~recommendations.models.AcceptanceModelVersion`, and read back only as verified bytes (``artifact_bytes``);
a mismatch means "no model" and nothing is unpickled. scikit-learn and pandas are imported inside the functions
that need them: importing this module (the web process does, through the services) stays cheap.
"""

from __future__ import annotations

import logging
import math
import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from recommendations.core.acceptance_model import (
    CV_SPLITS,
    FORMAT_VERSION,
    HYPERPARAMETERS,
    INPUT_COLUMNS,
    AcceptanceModel,
    feature_matrix,
    fit_acceptance,
    frame_hash,
    history_features,
    prequential_quality,
)

if TYPE_CHECKING:  # pandas is imported by the functions that build frames: the web process never does
    import pandas as pd

logger = logging.getLogger(__name__)

KIND: Final = "acceptance"
#: Fewer answers than this (or fewer than MIN_PER_CLASS accepts or rejects) and nothing is trained.
MIN_RESPONSES: Final = 50
MIN_PER_CLASS: Final = 10
#: Only the most recent answers are trained on (history features still see all): bounded time and memory.
MAX_TRAINING_ROWS: Final = 100_000


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
