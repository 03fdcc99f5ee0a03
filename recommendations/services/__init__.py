"""Every write of the recommendations app: generating, answering, expiring and scoring recommendations.

Generation and personalisation are imported on first use (:func:`__getattr__`): they bring numpy and the
numerical cores, which the web process, answering and reading cards, does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from recommendations.services.evaluate import EvaluateResult, outcome_fields, recommendations_evaluate, recommendations_expire
from recommendations.services.feedback import recommendation_feedback
from recommendations.services.respond import (
    AlreadyResponded,
    RecommendationExpired,
    RespondResult,
    is_expired,
    recommendation_respond,
    trade_idempotency_key,
)

if TYPE_CHECKING:
    from recommendations.services.generate import GenerateResult, recommendations_generate
    from recommendations.services.personalise import preference_profile_reset

#: Names served from a submodule imported when first asked for.
_LAZY = {
    "GenerateResult": "recommendations.services.generate",
    "recommendations_generate": "recommendations.services.generate",
    "preference_profile_reset": "recommendations.services.personalise",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlreadyResponded",
    "EvaluateResult",
    "GenerateResult",
    "RecommendationExpired",
    "RespondResult",
    "is_expired",
    "outcome_fields",
    "preference_profile_reset",
    "recommendation_feedback",
    "recommendation_respond",
    "recommendations_evaluate",
    "recommendations_expire",
    "recommendations_generate",
    "trade_idempotency_key",
]
