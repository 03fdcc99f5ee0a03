"""The learning loop's proof for the Learning page and ``GET /api/learning/performance``.

The learning app shows its models; whether they helped lives to its right: how the recommendations did once
scored (the ``live`` block: accuracy beside the base rate, acceptance, calibration, overall and per model
version, from :mod:`recommendations.stats`) and what the acceptance model learned (its stored feature importances,
read from the newest :class:`~recommendations.models.AcceptanceModelVersion` row; the artifact is not loaded).
Both are read on every request that shows them: a few queries at most.
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

from recommendations import stats
from recommendations.models import AcceptanceModelVersion


class LiveCalibrationBucket(TypedDict):
    lower: float
    upper: float
    evaluated: int
    mean_confidence: float
    hit_rate: float


class LiveGroup(TypedDict):
    """Scored recommendations of one group (all, or one model version). Rates are ``None`` with nothing behind them."""

    total: int
    answered: int
    accepted: int
    acceptance_rate: float | None
    evaluated: int
    correct: int
    accuracy: float | None
    base_rate: float | None
    calibration: list[LiveCalibrationBucket]


class LiveModelVersion(LiveGroup):
    model_version_id: int | None


class LivePerformance(LiveGroup):
    by_model_version: list[LiveModelVersion]


class AcceptanceImportance(TypedDict):
    """The newest acceptance model (P(the user accepts)) and what it leans on, largest importance first."""

    version: int
    trained_at: str  # ISO 8601
    responses: int
    users: int
    auc_mean: float | None
    base_rate: float | None
    importances: list[tuple[str, float]]


def _group(s: stats.RecommendationStats) -> LiveGroup:
    calibration: list[LiveCalibrationBucket] = [
        {
            "lower": b.lower,
            "upper": b.upper,
            "evaluated": b.evaluated,
            "mean_confidence": b.mean_confidence,
            "hit_rate": b.hit_rate,
        }
        for b in s.calibration
    ]
    return {
        "total": s.total,
        "answered": s.answered,
        "accepted": s.accepted,
        "acceptance_rate": s.acceptance_rate,
        "evaluated": s.evaluated,
        "correct": s.correct,
        "accuracy": s.accuracy,
        "base_rate": s.base_rate,
        "calibration": calibration,
    }


def live_performance() -> LivePerformance | None:
    """Every user's recommendations together, and per model version; ``None`` while there are none (four queries)."""
    overall = stats.recommendation_stats()
    if overall.total == 0:
        return None
    by_version: list[LiveModelVersion] = [
        {**_group(s), "model_version_id": s.key}  # type: ignore[typeddict-item]
        for s in stats.recommendation_stats_by(dimension="model_version")
    ]
    return {**_group(overall), "by_model_version": by_version}  # type: ignore[typeddict-item]


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def acceptance_importance() -> AcceptanceImportance | None:
    """The newest acceptance model's stored importances and cross-validation summary; ``None`` before the first one."""
    version = AcceptanceModelVersion.objects.order_by("-version").first()
    if version is None:
        return None
    metrics = version.metrics or {}
    return {
        "version": version.version,
        "trained_at": version.created_at.isoformat(),
        "responses": version.responses,
        "users": version.users,
        "auc_mean": _finite(metrics.get("auc_mean")),
        "base_rate": _finite(metrics.get("base_rate")),
        "importances": [(str(name), float(value)) for name, value in version.feature_importance or []],
    }


class PersonalisationQualityBlock(TypedDict):
    """The newest nightly time-ordered quality of the bandit and the acceptance model (each answer scored by the
    model as it stood before it; :mod:`recommendations.core.prequential`). A model's entry is ``None`` before its first."""

    computed_at: str  # ISO 8601
    answers: int
    bandit: dict[str, Any] | None
    acceptance: dict[str, Any] | None
    acceptance_version: int | None


def personalisation_quality() -> PersonalisationQualityBlock | None:
    """The newest :class:`~recommendations.models.PersonalisationQuality` row; ``None`` before the first nightly run."""
    from recommendations.models import PersonalisationQuality

    row = PersonalisationQuality.objects.order_by("-created_at", "-id").first()
    if row is None:
        return None
    return {
        "computed_at": row.created_at.isoformat(),
        "answers": row.answers,
        "bandit": row.bandit or None,
        "acceptance": row.acceptance or None,
        "acceptance_version": row.acceptance_version,
    }
