"""The learning loop's proof for the Learning page and ``GET /api/learning/performance``.

The learning app shows its models; whether they helped lives to its right: how the recommendations did once
scored (the ``live`` block: accuracy beside the base rate, acceptance, calibration, overall and per model
version: :mod:`recommendations.stats`' own typed result, which the page reads as it is and the API publishes with
the recommendations stats API's serializers) and what the acceptance model learned (its stored feature importances,
read from the newest :class:`~recommendations.models.AcceptanceModelVersion` row; the artifact is not loaded).
Both are read on every request that shows them: a few queries at most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, TypedDict

from recommendations import stats
from recommendations.models import AcceptanceModelVersion


@dataclass
class LivePerformance(stats.RecommendationStats):
    """Every user's recommendations taken together (the inherited figures, as :func:`recommendations.stats.
    recommendation_stats` computes them) and the same figures per model version (each ``key`` a model version id,
    ``None`` for those made without a registered model), as :func:`recommendations.stats.recommendation_stats_by`
    computes them."""

    by_model_version: list[stats.RecommendationStats] = field(default_factory=list)


class AcceptanceImportance(TypedDict):
    """The newest acceptance model (P(the user accepts)) and what it leans on, largest importance first."""

    version: int
    trained_at: str  # ISO 8601
    responses: int
    users: int
    auc_mean: float | None
    base_rate: float | None
    importances: list[tuple[str, float]]


def live_performance() -> LivePerformance | None:
    """Every user's recommendations together, and per model version; ``None`` while there are none (four queries)."""
    overall = stats.recommendation_stats()
    if overall.total == 0:
        return None
    figures = {f.name: getattr(overall, f.name) for f in fields(overall)}
    return LivePerformance(**figures, by_model_version=stats.recommendation_stats_by(dimension="model_version"))


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
