"""Shapes of the APIs composed here: the portfolio analytics with the investor's recommendation statistics, and the
learning performance summary with its ``live`` block (how the recommendations did once scored, from
:mod:`insights.learning_loop`). Both publish :mod:`recommendations.stats`' figures with the serializers of
``GET /api/recommendations/{user_id}/stats`` (:mod:`recommendations.api.stats`), so a figure has one shape and
one meaning wherever it appears."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from learning.api.serializers import PerformanceSerializer
from portfolios.api.serializers import AnalyticsSerializer
from recommendations.api.stats import GroupStatsSerializer, ModelVersionStatsSerializer, RecommendationStatisticsSerializer


# Every user's recommendations together, with the same figures per model version: the stats API's own serializers
# over insights.learning_loop.LivePerformance. (No docstring: drf-spectacular would publish it as a description.)
class LivePerformanceSerializer(GroupStatsSerializer):
    by_model_version = ModelVersionStatsSerializer(many=True)


class AcceptanceReliabilityBinSerializer(serializers.Serializer):
    lower = serializers.FloatField(help_text="Lower bound of the predicted P(accept) (included)")
    upper = serializers.FloatField(help_text="Upper bound (excluded, except 1.0)")
    answers = serializers.IntegerField()
    mean_predicted = serializers.FloatField()
    accepted_rate = serializers.FloatField(help_text="Share of the bin's answers that were accepts")


class PrequentialQualitySerializer(serializers.Serializer):
    answers = serializers.IntegerField(help_text="Answers scored, each by the model as it stood before it")
    accepted = serializers.IntegerField()
    auc = serializers.FloatField(allow_null=True, help_text="Time-ordered AUC (null with a single class)")
    brier = serializers.FloatField(allow_null=True)
    reliability = AcceptanceReliabilityBinSerializer(
        many=True, help_text="At most 10 bins of the prediction; empty bins left out"
    )
    block_aucs = serializers.ListField(child=serializers.FloatField(), help_text="Per retraining block (acceptance model)")


class PersonalisationQualitySerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    answers = serializers.IntegerField(help_text="Answered recommendations at the time of the nightly run")
    bandit = PrequentialQualitySerializer(allow_null=True, help_text="The contextual bandit, updated after every answer")
    acceptance = PrequentialQualitySerializer(
        allow_null=True, help_text="The acceptance model, each block scored by a model trained on the answers before it"
    )
    acceptance_version = serializers.IntegerField(allow_null=True)


# The learning app's summary and, last, the recommendations' live figures; the schema keeps the component's name.
# (No docstring: drf-spectacular would publish it as the component's description.)
@extend_schema_serializer(component_name="Performance")
class LearningPerformanceSerializer(PerformanceSerializer):
    live = LivePerformanceSerializer(
        allow_null=True,
        help_text="How the recommendations made so far did, all users together and per model version, in the shape of "
        "`GET /api/recommendations/{user_id}/stats`: acceptance rate, accuracy of the scored ones beside their base "
        "rate, the share whose price rose, accuracy and base rate per action, calibration (null until there are "
        "recommendations).",
    )
    personalisation = PersonalisationQualitySerializer(
        allow_null=True,
        help_text="Time-ordered (prequential) quality of the bandit and the acceptance model from the nightly ml job: "
        "AUC, Brier score, reliability and the number of answers (null before the first run).",
    )


class PortfolioAnalyticsSerializer(AnalyticsSerializer):
    recommendations = RecommendationStatisticsSerializer(
        help_text="How the investor's recommendations turned out: acceptance rate (accepted / answered), accuracy with "
        "its base rate beside it, and calibration, overall, per symbol and per model version."
    )
