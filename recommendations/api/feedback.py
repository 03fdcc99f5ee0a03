"""``POST /api/recommendations/{user_id}/{recommendation_id}/feedback``: a 1-5 score and a comment on an answered one.

The original design put this at ``POST /api/learning/feedback``; that prefix belongs to the learning app, so it
lives beside the recommendation it is about. Feedback goes through
:func:`recommendations.services.recommendation_respond` repeating the recorded answer (which adds feedback and
never trades again); a recommendation that has not been answered yet answers 409 ``not_answered``.
"""

from __future__ import annotations

from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimits import rate_limit
from quantai.errors import Conflict, NotFound
from recommendations import services
from recommendations.api.serializers import RecommendationSerializer
from recommendations.api.views import _ERROR, _READ_ERRORS, RECOMMENDATION_ID, TAG, USER_ID, recommendation_owner
from recommendations.forms import MAX_COMMENT
from recommendations.models import Recommendation


class NotAnswered(Conflict):
    code = "not_answered"


class FeedbackRequestSerializer(serializers.Serializer):
    score = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True, help_text="1 (useless) to 5")
    comment = serializers.CharField(max_length=MAX_COMMENT, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        if attrs.get("score") is None and not attrs.get("comment"):
            raise serializers.ValidationError({"score": ["Give a score, a comment, or both."]})
        return attrs


@method_decorator(rate_limit("recommendation_respond", key="user"), name="post")
class RecommendationFeedbackView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, RECOMMENDATION_ID],
        request=FeedbackRequestSerializer,
        responses={
            200: RecommendationSerializer,
            400: OpenApiResponse(_ERROR, description="Score outside 1-5, comment over 1000 characters, or neither given."),
            **_READ_ERRORS,
            409: OpenApiResponse(_ERROR, description="Not answered yet (`not_answered`): accept or reject it first."),
            429: OpenApiResponse(_ERROR, description="Too many requests; see Retry-After."),
        },
        summary="Rate an answered recommendation (1-5) and comment on it",
        description="Stores `score` (1-5) and/or `comment` (at most 1000 characters) on one of your answered "
        "recommendations; sending it again replaces them. Never executes a trade. (The original design's "
        "`POST /api/learning/feedback`.)",
    )
    def post(self, request: Request, user_id: str, recommendation_id: str) -> Response:
        owner = recommendation_owner(request, user_id, write=True)
        if not recommendation_id.isdigit():
            raise NotFound("No such recommendation.")
        serializer = FeedbackRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        answered = (
            Recommendation.objects.filter(pk=int(recommendation_id), user=owner).values_list("user_accepted", flat=True).first()
        )
        if answered is None:
            if not Recommendation.objects.filter(pk=int(recommendation_id), user=owner).exists():
                raise NotFound("No such recommendation.")
            raise NotAnswered(
                "Accept or reject the recommendation before rating it.", fields={"recommendation_id": ["Not answered yet."]}
            )
        result = services.recommendation_respond(
            user=owner,
            recommendation_id=int(recommendation_id),
            accept=bool(answered),
            feedback_score=data.get("score"),
            comment=data.get("comment") or None,
        )
        return Response(RecommendationSerializer(result.recommendation).data)
