"""``/api/portfolio/{user_id}/alerts...``: stop-loss / take-profit alerts, acting on them, dismissing them.

User-scoped like the rest of the portfolio API (``me`` or the caller's own id; another investor's id
answers 404). The two POSTs also serve the dashboard's plain HTML forms (``templates/portfolios/
_risk_alerts.html``): a form post that carries a same-site ``next`` is redirected back there, with
the outcome as a flash message, instead of answering JSON.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolios import alerts
from portfolios.api.serializers import TradeSerializer
from portfolios.api.views import _ERROR, _WRITE_ERRORS, READ_ERRORS, TAG, USER_ID, portfolio_owner
from portfolios.models import RiskAlert, RiskAlertStatus
from quantai.api_fields import StrictSerializer
from quantai.errors import ApplicationError, NotFound

ALERT_ID = OpenApiParameter("alert_id", OpenApiTypes.INT, OpenApiParameter.PATH)


class RiskAlertSerializer(serializers.ModelSerializer):
    trade = TradeSerializer(read_only=True, allow_null=True)

    class Meta:
        model = RiskAlert
        fields = [
            "id",
            "position",
            "symbol",
            "position_type",
            "kind",
            "level",
            "trigger_price",
            "price_date",
            "exit_side",
            "exit_shares",
            "exit_price",
            "status",
            "trade",
            "error",
            "created_at",
            "resolved_at",
        ]
        read_only_fields = fields


class AlertFilterSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=RiskAlertStatus.choices, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)


def _alert_id(value: str) -> int:
    if not value.isdigit():
        raise NotFound("No such alert.")
    return int(value)


def _form_redirect(request: Request) -> str | None:
    """Where to send a browser form post back to, if this is one (never to another site)."""
    if not (request.content_type or "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    target = request.data.get("next") if hasattr(request.data, "get") else None
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return str(target)
    return None


def _answer(request: Request, user_id: str, alert_id: str, action: Any, done: str) -> Any:
    owner = portfolio_owner(request, user_id, write=True)
    target = _form_redirect(request)
    try:
        alert = action(user=owner, alert_id=_alert_id(alert_id))
    except ApplicationError as exc:
        if target is None:
            raise
        messages.error(request._request, exc.message)
        return HttpResponseRedirect(target)
    if target is not None:
        messages.success(request._request, done.format(alert=alert))
        return HttpResponseRedirect(target)
    return Response(RiskAlertSerializer(alert).data)


class AlertsView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[
            USER_ID,
            OpenApiParameter("status", OpenApiTypes.STR, enum=RiskAlertStatus.values),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": 200}, description="At most 200 (default 50)"),
        ],
        responses={200: RiskAlertSerializer(many=True), 400: _WRITE_ERRORS[400], **READ_ERRORS},
        summary="Stop-loss and take-profit alerts, newest first",
        description="An alert is raised when a price refresh sees the latest close cross a position's stop loss or "
        "take profit. It proposes closing the position; nothing is sold until you act on it, unless the position "
        "has automatic exit on (then `status` is `auto_executed` and `trade` is the exit).",
    )
    def get(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id)
        filters = AlertFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = alerts.risk_alerts_for_user(
            user=owner, status=filters.validated_data.get("status"), limit=filters.validated_data["limit"]
        )
        return Response(RiskAlertSerializer(found, many=True).data)


class AlertActView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, ALERT_ID],
        request=None,
        responses={
            200: RiskAlertSerializer,
            **_WRITE_ERRORS,
            409: OpenApiResponse(_ERROR, description="The alert was dismissed, expired or executed, or the position is closed."),
        },
        summary="Execute an alert's exit (close the position at the latest close)",
        description="Records a SELL (long) or COVER (short) of the whole position with source `stop_loss`. Safe to "
        "retry: acting twice records one trade and answers the same alert.",
    )
    def post(self, request: Request, user_id: str, alert_id: str) -> Any:
        return _answer(request, user_id, alert_id, alerts.risk_alert_act, "{alert.symbol}: exit executed.")


class AlertDismissView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID, ALERT_ID],
        request=None,
        responses={
            200: RiskAlertSerializer,
            **_WRITE_ERRORS,
            409: OpenApiResponse(_ERROR, description="The alert's exit was already executed, or it expired."),
        },
        summary="Dismiss an alert (nothing is sold)",
        description="The same crossing raises no new alert; the next one (after the price came back) does.",
    )
    def post(self, request: Request, user_id: str, alert_id: str) -> Any:
        return _answer(request, user_id, alert_id, alerts.risk_alert_dismiss, "{alert.symbol}: alert dismissed.")
