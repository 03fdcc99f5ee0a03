"""Feedback on a recommendation: a 1-5 score and/or a comment, in any status, without answering it.

Two paths reach the same service, :func:`recommendations.services.recommendation_feedback`:

- ``POST /api/recommendations/{user_id}/{recommendation_id}/feedback``, beside the recommendation it is about;
- ``POST /api/learning/feedback`` with the recommendation's id in the body: the original design's path (the
  project's URLs map it here; feedback is an input of the learning loop, but the rows are this app's).

Feedback never accepts, rejects or trades; pending and expired recommendations can be rated too. Only the
recommendation's owner may rate it: another investor's id answers 404, and staff cannot rate for others.
"""

from __future__ import annotations

from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.ratelimits import rate_limit
from quantai.api_fields import StrictSerializer
from quantai.errors import NotFound
from quantai.parsers import BoundedJSONParser
from recommendations import services
from recommendations.api.serializers import RecommendationSerializer
from recommendations.api.views import _ERROR, _READ_ERRORS, RECOMMENDATION_ID, TAG, USER_ID, recommendation_owner
from recommendations.forms import MAX_COMMENT


class FeedbackRequestSerializer(StrictSerializer):
    # The rule of validate() for clients: a score (not null), or a comment with something in it.
    schema_extra = {
        "anyOf": [
            {"required": ["score"], "properties": {"score": {"type": "integer"}}},
            {"required": ["comment"], "properties": {"comment": {"type": "string", "pattern": r"\S"}}},
        ]
    }

    score = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, help_text="1 (useless) to 5")
    comment = serializers.CharField(max_length=MAX_COMMENT, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("score") is None and not attrs.get("comment"):
            raise serializers.ValidationError({"score": ["Give a score, a comment, or both."]})
        return attrs


class LearningFeedbackRequestSerializer(FeedbackRequestSerializer):
    recommendation_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="One of your recommendations")


_FEEDBACK_RESPONSES = {
    200: RecommendationSerializer,
    400: OpenApiResponse(_ERROR, description="Score outside 1-5, comment over 1000 characters, or neither given."),
    401: _READ_ERRORS[401],
    404: OpenApiResponse(_ERROR, description="No such recommendation of yours (another investor's id answers 404 too)."),
    422: OpenApiResponse(_ERROR, description="Feedback is turned off on this site (`feedback_disabled`)."),
    429: OpenApiResponse(_ERROR, description="Too many requests; see Retry-After."),
}
_FEEDBACK_DESCRIPTION = (
    "Stores `score` (1-5) and/or `comment` (at most 1000 characters) on one of your recommendations, whatever its "
    "status: pending and expired ones can be rated without answering them. Sending a field again replaces it; a "
    "field left out is kept. Never accepts, rejects or executes a trade."
)


def _rate(owner: User, recommendation_id: int, data: dict) -> Response:
    rec = services.recommendation_feedback(
        user=owner, recommendation_id=recommendation_id, score=data.get("score"), comment=data.get("comment") or None
    )
    return Response(RecommendationSerializer(rec).data)


@method_decorator(rate_limit("recommendation_respond", key="user"), name="post")
class RecommendationFeedbackView(APIView):
    # JSON only: the schema's typed body (decimals, nulls, booleans) has no form encoding.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, RECOMMENDATION_ID],
        request=FeedbackRequestSerializer,
        responses=_FEEDBACK_RESPONSES,
        summary="Rate a recommendation (1-5) and comment on it",
        description=_FEEDBACK_DESCRIPTION + " The same as `POST /api/learning/feedback`.",
    )
    def post(self, request: Request, user_id: str, recommendation_id: str) -> Response:
        owner = recommendation_owner(request, user_id, write=True)
        if not recommendation_id.isdigit():
            raise NotFound("No such recommendation.")
        serializer = FeedbackRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _rate(owner, int(recommendation_id), serializer.validated_data)


@method_decorator(rate_limit("recommendation_respond", key="user"), name="post")
class LearningFeedbackView(APIView):
    # JSON only: the schema's typed body (decimals, nulls, booleans) has no form encoding.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        tags=["learning"],
        request=LearningFeedbackRequestSerializer,
        responses=_FEEDBACK_RESPONSES,
        summary="Rate one of your recommendations (1-5) and comment on it (the original design's path)",
        description=_FEEDBACK_DESCRIPTION + " The recommendation is named by `recommendation_id` in the body; the same "
        "as `POST /api/recommendations/me/{recommendation_id}/feedback`.",
    )
    def post(self, request: Request) -> Response:
        owner = recommendation_owner(request, "me", write=True)
        serializer = LearningFeedbackRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return _rate(owner, data["recommendation_id"], data)
