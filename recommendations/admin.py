"""Operators browse recommendations, answers and outcomes. Read-only: answers go through the service
(which executes trades), and outcomes through the evaluation."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from recommendations.models import AcceptanceModelVersion, Recommendation, UserPreferenceProfile


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "trading_date",
        "user",
        "symbol",
        "recommendation_type",
        "recommended_shares",
        "recommended_price",
        "confidence_score",
        "risk_score",
        "status",
        "outcome_return_pct",
        "direction_correct",
    )
    list_filter = ("status", "recommendation_type", "symbol", "outcome_evaluated", "direction_correct", "trading_date")
    search_fields = ("user__username", "user__email", "symbol")
    date_hierarchy = "trading_date"
    list_select_related = ("user",)
    ordering = ("-trading_date", "-id")
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the nightly personalisation job; operators only read them."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UserPreferenceProfile)
class UserPreferenceProfileAdmin(_ReadOnlyAdmin):
    list_display = ("user", "responses", "acceptance_rate", "confidence_threshold", "size_scale", "computed_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(AcceptanceModelVersion)
class AcceptanceModelVersionAdmin(_ReadOnlyAdmin):
    list_display = ("version", "created_at", "responses", "users")
    ordering = ("-version",)
