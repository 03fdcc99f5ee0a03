"""Every write of the recommendations app: generating, answering, expiring and scoring recommendations."""

from recommendations.services.evaluate import EvaluateResult, outcome_fields, recommendations_evaluate, recommendations_expire
from recommendations.services.feedback import recommendation_feedback
from recommendations.services.generate import GenerateResult, recommendations_generate
from recommendations.services.personalise import preference_profile_reset
from recommendations.services.respond import (
    AlreadyResponded,
    RecommendationExpired,
    RespondResult,
    is_expired,
    recommendation_respond,
    trade_idempotency_key,
)

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
