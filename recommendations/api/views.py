"""``/api/recommendations/{user_id}``: an investor's recommendations, and answering one.

``user_id`` is a user's id or ``me``. Investors reach only their own: any other id answers 404 (whether
or not it exists). Staff may read others' but never answer for them. Views validate input, call one
selector or service, and serialise the result; errors have the common shape (``quantai.errors``).
"""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.ratelimits import rate_limit
from accounts.selectors import user_in_scope
from market.symbols import TRADABLE
from quantai.api_output import represent, represent_many
from quantai.errors import NotFound
from quantai.parsers import BoundedJSONParser
from recommendations import selectors, services
from recommendations.api.serializers import (
    DEFAULT_SCOPE,
    RecommendationFilterSerializer,
    RecommendationSerializer,
    RespondRequestSerializer,
    RespondResultSerializer,
)
from recommendations.models import RecommendationStatus, RecommendationType

TAG = "recommendations"

_ERROR = inline_serializer(
    "RecommendationErrorResponse",
    fields={
        "error": inline_serializer(
            "RecommendationErrorBody",
            fields={"code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField()},
        )
    },
)
_READ_ERRORS = {
    401: OpenApiResponse(_ERROR, description="Not signed in."),
    404: OpenApiResponse(_ERROR, description="No such user or recommendation for you (another investor's id answers 404 too)."),
}
USER_ID = OpenApiParameter("user_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A user id, or `me`.")
RECOMMENDATION_ID = OpenApiParameter("recommendation_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def recommendation_owner(request: Request, user_id: str, *, write: bool = False) -> User:
    """Whose recommendations ``user_id`` names, if the caller may see them (answers: only their own)."""
    owner = user_in_scope(caller=request.user, user_id=user_id, write=write)  # type: ignore[arg-type]
    if owner is None:
        raise NotFound("No such user.")
    return owner


#: The filters of a request without query parameters (the usual one: today's cards).
_DEFAULT_FILTERS = {"scope": DEFAULT_SCOPE}


class RecommendationListView(generics.ListAPIView):
    serializer_class = RecommendationSerializer
    # Paged by the project default (quantai.pagination: 50 a page, at most 500, malformed values refused).

    @extend_schema(
        tags=[TAG],
        parameters=[
            USER_ID,
            OpenApiParameter("scope", OpenApiTypes.STR, enum=["today", "history"], description="Default today"),
            OpenApiParameter("date", OpenApiTypes.DATE, description="Only this trading date"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=RecommendationStatus.values),
            OpenApiParameter("symbol", OpenApiTypes.STR, enum=list(TRADABLE)),
            OpenApiParameter("action", OpenApiTypes.STR, enum=RecommendationType.values),
        ],
        responses={200: RecommendationSerializer(many=True), 400: OpenApiResponse(_ERROR), **_READ_ERRORS},
        summary="Today's recommendations, or the history with outcomes",
        description="`scope=today` (default): the recommendations of the latest trading day you received any. "
        "`scope=history`: all of them, newest first, with outcomes once scored (and the shadow outcome of those "
        "you rejected or let expire). Filter by `status`, `symbol`, `action`, or one `date`.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        # The prebuilt serializer (quantai.api_output): the same output as get_serializer(page, many=True).data.
        if page is None:
            return Response(represent_many(RecommendationSerializer, queryset))
        return self.get_paginated_response(represent_many(RecommendationSerializer, page))

    def get_queryset(self) -> Any:
        owner = recommendation_owner(self.request, self.kwargs["user_id"])
        if self.request.query_params:
            filters = RecommendationFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            data = filters.validated_data
        else:
            data = _DEFAULT_FILTERS
        return selectors.recommendations_for_user(
            user=owner,
            scope=data["scope"],
            status=data.get("status"),
            symbol=data.get("symbol"),
            action=data.get("action"),
            trading_date=data.get("date"),
        ).select_related(None)  # the API shows trade_id only: no join to the trade


@method_decorator(rate_limit("recommendation_respond", key="user"), name="post")
class RecommendationRespondView(APIView):
    # JSON only: the schema's typed body (decimals, nulls, booleans) has no form encoding.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, RECOMMENDATION_ID],
        request=RespondRequestSerializer,
        responses={
            200: RespondResultSerializer,
            400: OpenApiResponse(_ERROR, description="Malformed input (`validation_error`); per-field messages."),
            **_READ_ERRORS,
            409: OpenApiResponse(
                _ERROR,
                description="Already answered the other way (`already_responded`), expired (`recommendation_expired`), "
                "or your account refuses the trade as it stands (`insufficient_cash`, `insufficient_shares`, "
                "`opposite_position`, `too_large`), the field named in error.fields.",
            ),
            422: OpenApiResponse(
                _ERROR,
                description="A rule refuses it: `shares_without_accept` (shares only when accepting), `hold_has_no_trade` "
                "(a HOLD takes no shares), `feedback_disabled` (feedback is turned off), or the ledger's "
                "`short_not_allowed` / `fees_too_high`.",
            ),
            429: OpenApiResponse(_ERROR, description="Too many answers; see Retry-After."),
        },
        summary="Accept (executes the paper trade) or reject a recommendation",
        description="Accepting executes the trade at the recommended price in the same transaction that records the "
        "answer; `shares` accepts a different size. Safe to retry: a repeated answer returns the first result with "
        "`replayed: true` and never trades twice. Optional feedback: `feedback_score` 1-5 and `comment`.",
    )
    def post(self, request: Request, user_id: str, recommendation_id: str) -> Response:
        owner = recommendation_owner(request, user_id, write=True)
        if not recommendation_id.isdigit():
            raise NotFound("No such recommendation.")
        serializer = RespondRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.recommendation_respond(
            user=owner,
            recommendation_id=int(recommendation_id),
            accept=data["accept"],
            shares=data.get("shares"),
            feedback_score=data.get("feedback_score"),
            comment=data.get("comment") or None,
        )
        body = {
            "recommendation": represent(RecommendationSerializer, result.recommendation),
            "trade_id": result.trade.pk if result.trade else None,
            "replayed": result.replayed,
        }
        return Response(body)
