"""``/api/backtests/``: start a backtest, list and read your runs, and the systems with their parameters.

Investors see only their own runs (another investor's run id answers 404, whether or not it exists);
operators see everyone's. Starting a run is rate limited (``RATE_LIMITS["backtest"]``, per user) and
answers 202: the run is queued for the ML workers; poll its URL (or listen to the live socket's
``job.progress`` messages) until ``status`` is ``succeeded`` or ``failed``.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimits import rate_limit
from backtesting import selectors, services
from backtesting.api.serializers import (
    BacktestCreatedSerializer,
    BacktestCreateSerializer,
    BacktestRunDetailSerializer,
    BacktestRunSerializer,
    RunListQuerySerializer,
    SystemSchemaSerializer,
)
from backtesting.systems import SYSTEMS
from quantai.parsers import BoundedJSONParser

TAG = "backtests"

_ERROR = inline_serializer(
    "BacktestErrorResponse",
    fields={
        "error": inline_serializer(
            "BacktestErrorBody",
            fields={"code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField()},
        )
    },
)
_UNAUTHENTICATED = {401: OpenApiResponse(_ERROR, description="Not signed in.")}
RUN_ID = OpenApiParameter("run_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="A backtest run's id.")


class BacktestListView(generics.ListAPIView):
    serializer_class = BacktestRunSerializer
    # JSON only: the schema's typed body (parameters, decimals, nulls) has no form encoding.
    parser_classes = [BoundedJSONParser]
    # Paged by the project default (quantai.pagination: 50 a page, at most 500, malformed values refused).

    def get_queryset(self) -> Any:
        return selectors.backtest_runs_visible_to(user=self.request.user)

    @extend_schema(
        tags=[TAG],
        responses={
            200: BacktestRunSerializer(many=True),
            400: OpenApiResponse(_ERROR, description="Invalid limit or offset."),
            **_UNAUTHENTICATED,
        },
        summary="Your backtest runs, newest first",
        description="Operators see every investor's runs.",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        RunListQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        request=BacktestCreateSerializer,
        responses={
            202: BacktestCreatedSerializer,
            400: OpenApiResponse(_ERROR, description="Malformed input (`validation_error`); per-field messages in error.fields."),
            **_UNAUTHENTICATED,
            422: OpenApiResponse(
                _ERROR,
                description="Well formed, but a rule refuses it (`rule_violation`), per field in error.fields: "
                "`parameters.<name>` (a parameter the system does not take, or out of its bounds; see "
                "GET /api/backtests/systems), `end` before `start`, `split_date` outside the period, or `period`: "
                "the stored prices cannot support it (no session, no SPY, too little history), saying what is needed.",
            ),
            429: OpenApiResponse(_ERROR, description="Too many backtests started; see the Retry-After header."),
        },
        summary="Start a backtest",
        description="Validates the request and queues the run; answers 202 with its id at once. Same inputs and "
        "seed give the same numbers.",
    )
    @rate_limit("backtest", key="user")
    def post(self, request: Request) -> Response:
        serializer = BacktestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = services.backtest_create(
            user=request.user,
            system=data["system"],
            params=data["parameters"],
            start=data["start"],
            end=data["end"],
            split=data["split_date"],
            commission_bps=data["commission_bps"],
            slippage_bps=data["slippage_bps"],
            execution=data["execution"],
            seed=data["seed"],
        )
        url = reverse("backtests-api:run", kwargs={"run_id": run.pk})
        body = {"id": run.pk, "status": run.status, "url": url}
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": url})


class BacktestDetailView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[RUN_ID],
        responses={
            200: BacktestRunDetailSerializer,
            **_UNAUTHENTICATED,
            404: OpenApiResponse(_ERROR, description="No such run for you (another investor's id answers 404 too)."),
        },
        summary="One backtest: status, progress and results",
        description="`results` holds the metrics of the strategy, SPY and the equal-weight five side by side (full "
        "period, in-sample, out-of-sample) and the validation figures; `equity_curve` the chart series.",
    )
    def get(self, request: Request, run_id: str) -> Response:
        run = selectors.backtest_run_get(user=request.user, run_id=run_id)
        return Response(BacktestRunDetailSerializer(run).data)


class SystemsView(APIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG],
        responses={200: SystemSchemaSerializer(many=True), **_UNAUTHENTICATED},
        summary="The backtesting systems and their parameter schemas",
    )
    def get(self, request: Request) -> Response:
        return Response([system.schema() for system in SYSTEMS.values()])
