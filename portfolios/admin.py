"""Operators browse and search positions, cash and the ledger. The ledger is read-only here: a
mistake is corrected with a new entry through the services, never by editing history."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from portfolios.core.ledger import exit_levels_problem
from portfolios.models import CashAccount, Position, RiskAlert, Trade


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "executed_at",
        "user",
        "side",
        "symbol",
        "shares",
        "price",
        "fees",
        "cash_delta",
        "realized_pnl",
        "source",
    )
    list_filter = ("side", "symbol", "source", "executed_at")
    search_fields = ("user__username", "user__email", "symbol", "idempotency_key")
    date_hierarchy = "executed_at"
    list_select_related = ("user",)
    ordering = ("-id",)
    show_full_result_count = False  # COUNT(*) over a large ledger on every page is not worth it

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PositionAdminForm(forms.ModelForm):
    class Meta:
        model = Position
        fields = ("stop_loss", "take_profit", "notes", "auto_exit")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("stop_loss") is not None or data.get("take_profit") is not None) and not self.instance.is_open:
            raise forms.ValidationError("This position is closed; it takes no exit levels.")
        problem = exit_levels_problem(self.instance.position_type, data.get("stop_loss"), data.get("take_profit"))
        if problem:
            self.add_error("stop_loss", problem)
        return data


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    form = PositionAdminForm
    list_display = (
        "user",
        "symbol",
        "position_type",
        "shares",
        "avg_purchase_price",
        "current_price",
        "market_value",
        "unrealized_pnl",
        "realized_pnl",
        "stop_loss",
        "take_profit",
        "auto_exit",
        "last_updated",
    )
    list_filter = ("symbol", "position_type", "auto_exit")
    search_fields = ("user__username", "user__email", "symbol", "notes")
    list_select_related = ("user",)
    # Ledger-derived and price-derived columns are caches; only the user's own settings are editable.
    readonly_fields = (
        "user",
        "symbol",
        "position_type",
        "shares",
        "avg_purchase_price",
        "purchase_date",
        "current_price",
        "market_value",
        "unrealized_pnl",
        "realized_pnl",
        "last_updated",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Position, form: Any, change: bool) -> None:
        # Only the user's settings: writing every column would put back shares read when the form
        # was opened, undoing any trade made since.
        obj.save(update_fields=list(PositionAdminForm.Meta.fields))


@admin.register(CashAccount)
class CashAccountAdmin(admin.ModelAdmin):
    list_display = ("user", "balance", "net_deposits", "updated_at")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "balance", "net_deposits", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RiskAlert)
class RiskAlertAdmin(admin.ModelAdmin):
    """Alerts are written by the risk check and resolved by their owner; operators only read them."""

    list_display = ("id", "user", "symbol", "kind", "level", "trigger_price", "status", "created_at", "resolved_at")
    list_filter = ("kind", "status", "symbol")
    search_fields = ("user__username", "symbol")
    readonly_fields = [f.name for f in RiskAlert._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
