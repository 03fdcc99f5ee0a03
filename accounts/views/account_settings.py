"""Account settings: the overview, the password change, and the signed-in sessions and API tokens. Two-step
sign-in (:mod:`accounts.views.two_step`) and the data pages (:mod:`accounts.views.data_safety`) are settings
pages too."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import PasswordChangeForm, apply_service_errors
from accounts.models import User
from accounts.profiles import profile_for
from accounts.ratelimits import rate_limit
from accounts.selectors import onboarding_next_step, user_sessions_list, user_tokens_active
from accounts.services import password_change, sessions_revoke_others
from accounts.two_step import two_step_status
from quantai.errors import ApplicationError


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    context = {
        "profile": profile_for(user.risk_tolerance),
        "next_step": onboarding_next_step(user),
        "two_step": two_step_status(user),
    }
    return render(request, "accounts/settings.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@rate_limit("password_change", key="user")
def password_change_view(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = password_change(
                user=_user(request),
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
                request=request,
            )
        except ApplicationError as exc:
            apply_service_errors(form, exc, {"new_password": "new_password1"})
        else:
            ended = result["sessions_ended"]
            messages.success(
                request,
                f"Password changed. {ended} other session{'s' if ended != 1 else ''} and every API token were signed out.",
            )
            return redirect("account_settings")
    return render(request, "accounts/password_change.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def sessions_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        result = sessions_revoke_others(user=user, request=request)
        messages.success(
            request,
            f"Signed out {result['sessions_ended']} other session(s) and {result['tokens_revoked']} API token(s).",
        )
        return redirect("account_sessions")
    context: dict[str, Any] = {
        "sessions": user_sessions_list(user=user),
        "current_key": request.session.session_key,
        "tokens": user_tokens_active(user=user),
    }
    return render(request, "accounts/sessions.html", context)
