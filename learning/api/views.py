"""``/api/learning/...``: request a training run (operators), read runs (analysts and up).

``GET /api/learning/performance`` is :class:`insights.api.learning.PerformanceView`: it adds how the
recommendations did, which this app cannot read.

Investors get 403. Every error leaves in the common shape ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnalyst, IsOperator
from accounts.ratelimits import rate_limit
from learning import selectors
from learning.api.serializers import TrainAcceptedSerializer, TrainingRunSerializer, TrainRequestSerializer
from learning.services import training_run_request
from quantai.parsers import BoundedJSONParser

TAG = "learning"

_ERROR = inline_serializer(
    "LearningErrorResponse",
    fields={
        "error": inline_serializer(
            "LearningErrorBody",
            fields={"code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField()},
        )
    },
)
READ_ERRORS = {
    401: OpenApiResponse(_ERROR, description="Not signed in."),
    403: OpenApiResponse(_ERROR, description="Analysts, operators and administrators only."),
}


# After authentication and the role check (DRF runs those before the handler), so refused callers use no quota.
@method_decorator(rate_limit("training", key="user"), name="post")
class TrainView(APIView):
    permission_classes = [IsOperator]
    parser_classes = [BoundedJSONParser]  # JSON only: a list of kinds has no form encoding in the schema

    @extend_schema(
        tags=[TAG],
        request=TrainRequestSerializer,
        responses={
            202: TrainAcceptedSerializer,
            400: OpenApiResponse(_ERROR, description="Malformed input (`validation_error`): an unknown kind, an invalid date."),
            401: READ_ERRORS[401],
            403: OpenApiResponse(_ERROR, description="Operators and administrators only."),
            409: OpenApiResponse(_ERROR, description="A training run is already queued or running (code training_in_progress)."),
            422: OpenApiResponse(_ERROR, description="A kind this installation cannot train (`kind_unavailable`)."),
            429: OpenApiResponse(_ERROR, description="Too many training requests (RATE_LIMITS['training']); see Retry-After."),
        },
        summary="Start a training run",
        description="Queues a training run on the ML workers and returns its id at once (202). The run reads the stored "
        "bars, skips when they and the settings are unchanged since the latest version, otherwise trains the base models "
        "and the ensemble, and promotes each only if it is at least as good as the active version on the most recent "
        "walk-forward fold. Follow it with GET /api/learning/runs or the live `job.progress` messages.",
    )
    def post(self, request: Request) -> Response:
        params = TrainRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        run = training_run_request(
            user=request.user, kinds=params.validated_data.get("kinds"), until=params.validated_data.get("until")
        )
        body = TrainAcceptedSerializer({"run_id": run.pk, "run": run}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class RunsView(APIView):
    permission_classes = [IsAnalyst]

    @extend_schema(
        tags=[TAG],
        responses={200: TrainingRunSerializer(many=True), **READ_ERRORS},
        summary="Recent training runs",
        description="The 20 most recent training runs, newest first, with status, progress and the promotion result.",
    )
    def get(self, request: Request) -> Response:
        response = Response(TrainingRunSerializer(selectors.runs_recent(limit=20), many=True).data)
        add_never_cache_headers(response)
        return response
