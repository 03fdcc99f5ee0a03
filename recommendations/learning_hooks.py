"""What this app gives the learning app's page and API (registered by :class:`recommendations.apps.RecommendationsConfig`).

learning cannot import recommendations, so it declares the shapes it wants in :mod:`learning.hooks` and this
module fills them: the ``live`` block of ``GET /api/learning/performance`` (how all recommendations did once
scored, from :mod:`recommendations.stats`) and the acceptance model's feature importances for the Learning page
(read from the newest :class:`~recommendations.models.AcceptanceModelVersion` row; the artifact is not loaded).
"""

from __future__ import annotations

import math
from typing import Any

from learning.hooks import AcceptanceImportance, LiveCalibrationBucket, LiveGroup, LiveModelVersion, LivePerformance
from recommendations import stats
from recommendations.models import AcceptanceModelVersion


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
