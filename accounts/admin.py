from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "risk_tolerance", "investment_experience", "portfolio_value", "total_pnl", "is_active", "is_staff", "created_at")
    list_filter = ("risk_tolerance", "investment_experience", "is_active", "is_staff", "groups")
    readonly_fields = ("portfolio_value", "total_pnl", "created_at", "last_login", "date_joined")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Investor profile", {"fields": ("risk_tolerance", "investment_experience", "preferences", "portfolio_value", "total_pnl", "created_at")}),
    )
