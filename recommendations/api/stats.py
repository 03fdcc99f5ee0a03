"""``GET /api/recommendations/{user_id}/stats``: how an investor's recommendations turned out.

Accuracy with its base rate beside it, acceptance rate and calibration, overall, per symbol and per model
version (definitions in :mod:`recommendations.stats`). Same scoping as the list: ``me`` or your own id; another
investor's id answers 404; staff may read anyone's.

The serializers here are the one published shape of :class:`~recommendations.stats.RecommendationStats`: the
portfolio analytics and the ``live`` block of ``GET /api/learning/performance`` (composed to the right of this
app) publish the same figures with them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from recommendations import stats
from recommendations.api.views import _ERROR, _READ_ERRORS, TAG, USER_ID, recommendation_owner


class CalibrationBucketSerializer(serializers.Serializer):
    lower = serializers.FloatField(help_text="Lower confidence bound (included)")
    upper = serializers.FloatField(help_text="Upper confidence bound (excluded, except 1.0)")
    evaluated = serializers.IntegerField()
    mean_confidence = serializers.FloatField()
    hit_rate = serializers.FloatField(help_text="Share of the bucket whose call was right")


class ActionStatsSerializer(serializers.Serializer):
    action = serializers.CharField()
    evaluated = serializers.IntegerField()
    correct = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True)
    base_rate = serializers.FloatField(allow_null=True, help_text="How often this call would have been right on all scored rows")


class GroupStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Recommendations made")
    answered = serializers.IntegerField(help_text="Accepted + rejected BUY and SELL cards (a HOLD asks nothing)")
    accepted = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True, help_text="Accepted / answered")
    evaluated = serializers.IntegerField(help_text="Scored at their horizon")
    correct = serializers.IntegerField()
    accuracy = serializers.FloatField(allow_null=True, help_text="Correct / evaluated (BUY up, SELL down, HOLD in band)")
    base_rate = serializers.FloatField(
        allow_null=True,
        help_text="Accuracy the same mix of calls would have had by luck on the same scored rows (per-action base rates "
        "weighted)",
    )
    up_share = serializers.FloatField(allow_null=True, help_text="Share of scored recommendations whose price rose")
    by_action = ActionStatsSerializer(many=True)
    calibration = CalibrationBucketSerializer(many=True, help_text="Confidence buckets of 0.1: mean confidence vs hit rate")


class SymbolStatsSerializer(GroupStatsSerializer):
    symbol = serializers.CharField(source="key")


class ModelVersionStatsSerializer(GroupStatsSerializer):
    model_version_id = serializers.IntegerField(source="key", allow_null=True, help_text="null: made without a registered model")


class RecommendationStatisticsSerializer(serializers.Serializer):
    """One investor's statistics overall, per symbol and per model version (also part of the portfolio analytics)."""

    overall = GroupStatsSerializer()
    by_symbol = SymbolStatsSerializer(many=True)
    by_model_version = ModelVersionStatsSerializer(many=True)


class UserStatsSerializer(RecommendationStatisticsSerializer):
    user_id = serializers.IntegerField()


def user_statistics(user: User) -> dict[str, Any]:
    """``user``'s :func:`~recommendations.stats.user_recommendation_stats`, shaped for
    :class:`RecommendationStatisticsSerializer`."""
    result = stats.user_recommendation_stats(user=user)
    return {"overall": result.overall, "by_symbol": result.by_symbol, "by_model_version": result.by_model_version}


class RecommendationStatsView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID],
        responses={200: UserStatsSerializer, **_READ_ERRORS, 400: OpenApiResponse(_ERROR)},
        summary="Accuracy (with base rate), acceptance rate and calibration of your recommendations",
        description="Accuracy is the share of scored recommendations whose call was right (BUY up, SELL down, HOLD "
        "inside the band); `base_rate` is what the same calls would have scored by luck on the same rows. "
        "Acceptance rate is accepted over answered. Calibration buckets confidence in steps of 0.1 and compares "
        "the mean confidence with the hit rate. Overall, per symbol and per model version.",
    )
    def get(self, request: Request, user_id: str, *args: Any, **kwargs: Any) -> Response:
        owner = recommendation_owner(request, user_id)
        return Response(UserStatsSerializer({"user_id": owner.pk, **user_statistics(owner)}).data)
