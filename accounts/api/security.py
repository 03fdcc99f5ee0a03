"""``GET /api/auth/security/summary``: the security dashboard's numbers and chart series, for operators."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.views import _ERRORS
from accounts.permissions import IsOperator
from accounts.security import security_dashboard_data


class SecurityTotalsSerializer(serializers.Serializer):
    failed_logins_24h = serializers.IntegerField()
    lockouts_24h = serializers.IntegerField()
    rate_limited_24h = serializers.IntegerField()
    permission_denied_24h = serializers.IntegerField()
    locked_out_now = serializers.IntegerField(allow_null=True, help_text="Null when AXES_FAILURE_LIMIT is a callable.")
    active_sessions = serializers.IntegerField()


class SecuritySeriesSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField(), help_text="Bucket starts: ISO hours or dates, oldest first.")
    failed_logins = serializers.ListField(child=serializers.IntegerField())
    lockouts = serializers.ListField(child=serializers.IntegerField())


class RateLimitHitsSerializer(serializers.Serializer):
    path = serializers.CharField()
    limit = serializers.CharField()
    last_24h = serializers.IntegerField()
    last_30d = serializers.IntegerField()


class SecuritySummarySerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    totals = SecurityTotalsSerializer()
    hourly = SecuritySeriesSerializer(help_text="The last 24 clock hours, the current one last.")
    daily = SecuritySeriesSerializer(help_text="The last 30 days, today last.")
    rate_limits = RateLimitHitsSerializer(many=True, help_text="Busiest endpoints over 30 days (at most 20).")


class SecuritySummaryView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["security"],
        responses={
            200: SecuritySummarySerializer,
            401: _ERRORS[401],
            403: OpenApiResponse(_ERRORS[401].response, description="Operators and administrators only."),
        },
        summary="Security dashboard data",
        description="Failed sign-ins and lockouts per hour (24 h) and per day (30 days), rate-limit refusals by "
        "endpoint, lockouts in force and active sessions. The dashboard page refreshes its charts from here.",
    )
    def get(self, request: Request) -> Response:
        response = Response(SecuritySummarySerializer(security_dashboard_data()).data)
        add_never_cache_headers(response)
        return response
