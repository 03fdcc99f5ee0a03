from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from market.models import PriceBar, ProviderCallCount, ProviderIncident


@admin.register(PriceBar)
class PriceBarAdmin(admin.ModelAdmin):
    list_display = ("symbol", "date", "open", "high", "low", "close", "volume", "source", "updated_at")
    list_filter = ("symbol", "source")
    date_hierarchy = "date"
    search_fields = ("symbol",)
    ordering = ("-date", "symbol")
    list_per_page = 100
    # Bars are written by the loaders; where one came from is a fact, not something to edit.
    readonly_fields = ("source", "updated_at")


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> tuple[tuple[str, str], ...]:
        return (("open", "Open"), ("resolved", "Resolved"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "open":
            return queryset.filter(open_key__isnull=False)
        if self.value() == "resolved":
            return queryset.filter(open_key__isnull=True)
        return queryset


@admin.register(ProviderIncident)
class ProviderIncidentAdmin(admin.ModelAdmin):
    """Written by the price refresh; operators read them here and on the System page."""

    list_display = ("provider", "symbol", "kind", "transient", "occurrences", "first_seen_at", "last_seen_at", "resolved_at")
    list_filter = (OpenFilter, "provider", "kind", "transient")
    search_fields = ("symbol", "message")
    ordering = ("-last_seen_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProviderCallCount)
class ProviderCallCountAdmin(admin.ModelAdmin):
    list_display = ("provider", "day", "calls")
    list_filter = ("provider",)
    ordering = ("-day", "provider")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
