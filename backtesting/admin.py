"""Backtest runs in the admin: read-only (runs are written by the services only); analysts and above see them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from backtesting.models import BacktestRun


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "system", "status", "progress", "start", "end", "created_at", "duration_seconds")
    list_filter = ("status", "system", "execution")
    search_fields = ("owner__username", "data_hash")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    readonly_fields = [f.name for f in BacktestRun._meta.fields]
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
