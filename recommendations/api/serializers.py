"""Shapes of the recommendations API. Money and shares are decimal strings; fractions are 0-1 decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from market.symbols import TRADABLE
from quantai.api_fields import StrictDecimalField, StrictSerializer
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType

SCOPES = ("today", "history")


class RecommendationSerializer(serializers.ModelSerializer):
    action = serializers.CharField(source="recommendation_type")
    reasoning = serializers.CharField(source="recommendation_reasoning")
    trade_id = serializers.IntegerField(allow_null=True)
    top_contributions = serializers.SerializerMethodField()

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "symbol",
            "action",
            "trade_side",
            "recommended_shares",
            "recommended_price",
            "confidence_score",
            "model_prediction",
            "risk_score",
            "reasoning",
            "status",
            "trading_date",
            "horizon_days",
            "expires_on",
            "evaluate_on",
            "price_target",
            "expected_return",
            "recommendation_timestamp",
            "user_accepted",
            "user_response_timestamp",
            "actual_shares_traded",
            "actual_price",
            "trade_id",
            "outcome_evaluated",
            "outcome_price",
            "outcome_date",
            "outcome_pnl",
            "outcome_return_pct",
            "direction_correct",
            "shadow_pnl",
            "shadow_return_pct",
            "evaluation_timestamp",
            "user_feedback_score",
            "user_feedback_comment",
            "market_conditions",
            "top_contributions",
            "model_version_id",
        ]
        read_only_fields = fields

    def get_top_contributions(self, obj: Recommendation) -> list[dict[str, Any]]:
        values = (obj.model_features or {}).get("feature_values", {})
        return [{"feature": n, "contribution": c, "value": values.get(n)} for n, c in obj.top_contributions]


#: The list's scope when the request names none (the view skips validation for a request without parameters).
DEFAULT_SCOPE = "today"


class RecommendationFilterSerializer(StrictSerializer):
    scope = serializers.ChoiceField(choices=SCOPES, default=DEFAULT_SCOPE, help_text="today: the latest day's; history: all")
    date = serializers.DateField(required=False, help_text="Only this trading date (overrides scope)")
    status = serializers.ChoiceField(choices=RecommendationStatus.values, required=False)
    symbol = serializers.ChoiceField(choices=list(TRADABLE), required=False)
    action = serializers.ChoiceField(choices=RecommendationType.values, required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)


class RespondRequestSerializer(StrictSerializer):
    accept = serializers.BooleanField(help_text="true executes the trade (paper), false rejects")
    shares = StrictDecimalField(
        max_digits=10,
        decimal_places=4,
        required=False,
        allow_null=True,
        min_value=Decimal("0.0001"),
        help_text="Accept a different size (only with accept: true, and not for a HOLD)",
    )
    feedback_score = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RespondResultSerializer(serializers.Serializer):
    recommendation = RecommendationSerializer()
    trade_id = serializers.IntegerField(allow_null=True)
    replayed = serializers.BooleanField(help_text="true when this repeated an answer already recorded")
