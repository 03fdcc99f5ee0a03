from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from accounts.audit import audit_record
from accounts.authority import ROLE_FIELDS, can_change_roles, can_manage
from accounts.models import AuditAction, AuditEvent, User, UserSession
from accounts.roles import role_of
from accounts.sessions import session_store
from accounts.staff import (
    staff_change_check,
    staff_change_record,
    staff_delete_check,
    staff_delete_record,
    staff_password_set_record,
    staff_refusal_record,
)
from accounts.two_step import two_step_reset


class AdminUserChangeForm(UserChangeForm):
    """Preferences are a JSON object: an emptied box means "no preferences", not NULL (which the
    column refuses), and a list or a number is a form error rather than a stored surprise."""

    def clean_preferences(self) -> dict[str, Any]:
        value = self.cleaned_data.get("preferences")
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError('Enter a JSON object, for example {} or {"theme": "dark"}.')
        return value


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AdminUserChangeForm
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

    # Who may change whom (accounts.authority): a user whose role is equal to or above yours is
    # view-only here, including its password page and deletion; roles are given by administrators only.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or can_manage(request.user, obj))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or can_manage(request.user, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser or (obj is not None and not can_change_roles(request.user, obj)):
            fields += ROLE_FIELDS
        return fields

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST":
            target = self.get_object(request, unquote(object_id))
            if target is not None and not can_manage(request.user, target):
                staff_refusal_record(request=request, target=target, attempted="change")
                raise PermissionDenied
        return super().change_view(request, object_id, form_url, extra_context)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        target = self.get_object(request, unquote(id))
        if target is not None and not can_manage(request.user, target):
            staff_refusal_record(request=request, target=target, attempted="password")
            raise PermissionDenied
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and target is not None:
            saved = User.objects.get(pk=target.pk)
            if saved.password != target.password:
                staff_password_set_record(actor=request.user, target=saved, via="admin", request=request)
        return response

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        stored = User.objects.get(pk=obj.pk) if change else None
        if stored is not None:
            # The form is already view-only for those you may not manage; this holds if it is bypassed.
            staff_change_check(actor=request.user, target=stored, fields=form.changed_data, request=request)
        request._quantai_role_before = role_of(stored) if stored is not None else None  # type: ignore[attr-defined]
        request._quantai_stored_user = stored  # type: ignore[attr-defined]
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
        stored = getattr(request, "_quantai_stored_user", None)
        if change and stored is not None:
            staff_change_record(
                actor=request.user, before=stored, after=obj, fields=form.changed_data, via="admin", request=request
            )

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        staff_delete_check(actor=request.user, targets=[obj], request=request)
        staff_delete_record(actor=request.user, target=obj, via="admin", request=request)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        targets = staff_delete_check(actor=request.user, targets=queryset, request=request)
        for target in targets:
            staff_delete_record(actor=request.user, target=target, via="admin", request=request)
        super().delete_queryset(request, queryset)

    actions = ["two_step_reset_action"]

    @admin.action(description="Turn off two-step sign-in (lost phone and recovery codes)", permissions=["change"])
    def two_step_reset_action(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """For users below you only (accounts.authority); each is audited and signed out everywhere."""
        done, refused = [], []
        for target in queryset:
            try:
                if two_step_reset(user=target, actor=request.user, request=request):  # type: ignore[arg-type]
                    done.append(target.username)
            except PermissionDenied:
                refused.append(target.username)
        if done:
            self.message_user(request, f"Two-step sign-in turned off and sessions ended for: {', '.join(done)}.")
        if refused:
            self.message_user(request, f"You may not change: {', '.join(refused)}.", level=messages.ERROR)
        if not done and not refused:
            self.message_user(request, "None of them had two-step sign-in.", level=messages.WARNING)


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


class RevocableAdmin(admin.ModelAdmin):
    """Rows that let someone in (signed-in sessions, API tokens): operators see them and revoke them, nobody adds or
    edits one here. Revoking someone's is managing them: your own, or those of users below you. Every revocation is
    audited (with :attr:`revoke_details`); a subclass extends :meth:`_revoke` when revoking needs more than deleting
    the row."""

    list_select_related = ("user",)
    revoke_details: dict[str, str] = {"via": "admin"}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.user_id == request.user.pk or can_manage(request.user, obj.user))

    def _revoke(self, request: HttpRequest, rows: list[Any]) -> None:
        for row in rows:
            audit_record(action=AuditAction.SESSION_REVOKED, request=request, target=row.user, details=dict(self.revoke_details))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._revoke(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._revoke(request, list(queryset.select_related("user")))
        super().delete_queryset(request, queryset)


@admin.register(UserSession)
class UserSessionAdmin(RevocableAdmin):
    """Signed-in sessions; ending one signs that browser out."""

    list_display = ("user", "created_at", "last_seen", "ip", "user_agent")
    search_fields = ("user__username", "ip")
    exclude = ("session_key",)
    readonly_fields = ("user", "created_at", "last_seen", "ip", "user_agent")

    def _revoke(self, request: HttpRequest, rows: list[UserSession]) -> None:
        store = session_store()
        for row in rows:
            store.delete(row.session_key)
        super()._revoke(request, rows)


# knox's own admin lets staff create a token for any user (and so act as them, an administrator included) and
# revoke anyone's: replaced by this one.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(RevocableAdmin):
    """API tokens. Nobody creates one here: a token is what signing in to the API gives its holder."""

    list_display = ("user", "created", "expiry")
    search_fields = ("user__username",)
    fields = ("user", "created", "expiry")
    readonly_fields = fields
    revoke_details = {"via": "admin", "kind": "api_token"}


# django-otp registers its devices here; their secrets (an authenticator's key, unused recovery
# codes) would let whoever reads them pass someone else's second step. Nobody manages devices in
# the admin: people do it from Settings, and ``manage.py two_step_reset`` helps a locked-out one.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
