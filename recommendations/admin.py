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
    """Per user, what personalisation learned (the same summary the user sees under Settings)."""

    list_display = (
        "user",
        "responses",
        "acceptance_rate",
        "confidence_threshold",
        "learned_size_fraction",
        "learned_cards_read",
        "bandit_answers",
        "computed_at",
        "reset_at",
    )
    search_fields = ("user__username",)
    list_select_related = ("user",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["learned", *super().get_readonly_fields(request, obj)]

    @admin.display(description="size traded")
    def learned_size_fraction(self, obj: UserPreferenceProfile) -> str:
        from recommendations.core.learned_profile import Profile

        value = Profile.from_dict(obj.profile).size_fraction
        return "-" if value is None else f"{100 * value:.0f} %"

    @admin.display(description="cards read a day")
    def learned_cards_read(self, obj: UserPreferenceProfile) -> str:
        from recommendations.core.learned_profile import Profile

        value = Profile.from_dict(obj.profile).cards_read
        return "all" if value is None else f"{value:g}"

    @admin.display(description="bandit answers")
    def bandit_answers(self, obj: UserPreferenceProfile) -> int:
        from recommendations.core.bandit import ArmStats

        return ArmStats.from_dict((obj.profile or {}).get("bandit")).n

    @admin.display(description="what QuantAI has learned")
    def learned(self, obj: UserPreferenceProfile) -> str:
        from recommendations.core.learned_profile import Profile, learned_summary

        summary = learned_summary(Profile.from_dict(obj.profile))
        symbols = ", ".join(f"{s} {100 * r:.0f} % ({n})" for s, r, n in summary.symbols)
        return " ".join(summary.lines) + (f" By stock: {symbols}." if symbols else "")


@admin.register(AcceptanceModelVersion)
class AcceptanceModelVersionAdmin(_ReadOnlyAdmin):
    list_display = ("version", "created_at", "responses", "users")
    ordering = ("-version",)
