from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditEvent, User, UserSession
from accounts.roles import role_of
from accounts.sessions import session_store

#: Fields only an administrator may change: anything else would let an operator promote themselves.
ROLE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "email",
        "risk_tolerance",
        "investment_experience",
        "onboarding_stage",
        "portfolio_value",
        "is_active",
        "is_staff",
        "created_at",
    )
    list_filter = ("risk_tolerance", "investment_experience", "onboarding_stage", "is_active", "is_staff", "groups")
    readonly_fields = ("portfolio_value", "total_pnl", "created_at", "last_login", "date_joined", "questionnaire", "profiled_at")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (
            "Investor profile",
            {
                "fields": (
                    "risk_tolerance",
                    "investment_experience",
                    "onboarding_stage",
                    "starting_cash",
                    "questionnaire",
                    "profiled_at",
                    "preferences",
                    "portfolio_value",
                    "total_pnl",
                    "created_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ROLE_FIELDS
        return fields

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        request._quantai_role_before = role_of(User.objects.get(pk=obj.pk)) if change else None  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        obj._quantai_group_names = None
        before = getattr(request, "_quantai_role_before", None)
        after = role_of(obj)
        if change and before != after:
            audit_record(
                action=AuditAction.ROLE_CHANGE,
                request=request,
                target=obj,
                details={"before": before.value if before else None, "after": after.value if after else None, "via": "admin"},
            )


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is evidence."""

    list_display = ("created_at", "action", "actor_username", "target_type", "target_id", "ip")
    list_filter = ("action",)
    search_fields = ("actor_username", "target_id", "ip")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Operators see signed-in sessions and can end them (deleting one signs that browser out)."""

    list_display = ("user", "created_at", "last_seen", "ip", "user_agent")
    search_fields = ("user__username", "ip")
    list_select_related = ("user",)
    exclude = ("session_key",)
    readonly_fields = ("user", "created_at", "last_seen", "ip", "user_agent")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _end(self, request: HttpRequest, rows: list[UserSession]) -> None:
        store = session_store()
        for row in rows:
            store.delete(row.session_key)
            audit_record(action=AuditAction.SESSION_REVOKED, request=request, target=row.user, details={"via": "admin"})

    def delete_model(self, request: HttpRequest, obj: UserSession) -> None:
        self._end(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UserSession]) -> None:
        self._end(request, list(queryset.select_related("user")))
        super().delete_queryset(request, queryset)
