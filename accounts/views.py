"""Server-rendered pages: sign-in/out, registration, the onboarding wizard's first steps (the questionnaire and
the risk profile; portfolio setup and the finish span apps and are :mod:`insights.urls`'), account settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    PasswordResetRequestForm,
    QuestionnaireForm,
    RegistrationForm,
    SetPasswordForm,
    apply_service_errors,
)
from accounts.models import User
from accounts.password_reset import CHECK_YOUR_EMAIL as RESET_CHECK_YOUR_EMAIL
from accounts.password_reset import INVALID_LINK as RESET_INVALID_LINK
from accounts.password_reset import password_reset_confirm, password_reset_request, password_reset_user
from accounts.profiles import PROFILES, profile_for
from accounts.questionnaire import MAX_SCORE, QUESTIONS, TOLERANCE_THRESHOLDS
from accounts.ratelimits import rate_limit
from accounts.registration import (
    CHECK_YOUR_EMAIL,
    INVALID_LINK,
    registration_confirm,
    registration_request,
    registration_user,
)
from accounts.selectors import onboarding_next_step, onboarding_steps, user_sessions_list, user_tokens_active
from accounts.services import (
    password_change,
    questionnaire_submit,
    session_login,
    session_logout,
    sessions_revoke_others,
)
from accounts.two_step import pending_sign_in_start, two_step_enabled, two_step_status
from quantai.errors import ApplicationError


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@method_decorator(rate_limit("login"), name="dispatch")
class LoginView(auth_views.LoginView):
    """Sign in. Locked-out clients get the lockout page (axes middleware); a user still onboarding
    is taken to their next step."""

    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if two_step_enabled(user):
            # The password was right; the session signs in once the code is (accounts.two_step).
            pending_sign_in_start(request=self.request, user=user, next_url=self.get_redirect_url())
            return HttpResponseRedirect(reverse("login_two_step"))
        session_login(request=self.request, user=user)
        return HttpResponseRedirect(self.get_success_url())

    def get_success_url(self) -> str:
        # An explicit destination (?next=, e.g. the admin) wins; otherwise resume onboarding.
        step = onboarding_next_step(_user(self.request))
        if step is not None and not self.get_redirect_url():
            return step.url
        return super().get_success_url()


@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST signs out and deletes the server-side session."""
    if request.method == "POST":
        if request.user.is_authenticated:
            session_logout(request=request)
            messages.success(request, "You are signed out.")
        return redirect("home")
    return render(request, "accounts/logout.html")


@require_http_methods(["GET", "POST"])
@rate_limit("register")
def register_view(request: HttpRequest) -> HttpResponse:
    """The same answer whether or not the name or address is in use (``accounts.registration``)."""
    if request.user.is_authenticated:
        return redirect("home")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registration_request(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except ApplicationError as exc:
            apply_service_errors(form, exc, {"password": "password1"})
        else:
            return redirect("register_done")
    return render(request, "accounts/register.html", {"form": form})


def register_done_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/register_done.html", {"message": CHECK_YOUR_EMAIL})


@require_http_methods(["GET", "POST"])
def register_confirm_view(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """GET shows a button (mail scanners that open links activate nothing); POST activates and signs in."""
    if registration_user(uidb64=uidb64, token=token) is None:
        return render(request, "accounts/register_confirm.html", {"invalid": True, "message": INVALID_LINK}, status=400)
    if request.method == "POST":
        try:
            user = registration_confirm(uidb64=uidb64, token=token, request=request)
        except ApplicationError as exc:
            return render(request, "accounts/register_confirm.html", {"invalid": True, "message": exc.message}, status=400)
        if request.user.is_authenticated:
            session_logout(request=request)
        session_login(request=request, user=user)
        messages.success(request, f"Welcome, {user.username}. Three short steps set up your account.")
        return redirect("onboarding_questionnaire")
    return render(request, "accounts/register_confirm.html", {"invalid": False})


@login_required
def onboarding_view(request: HttpRequest) -> HttpResponse:
    """Resume the wizard where the user left it."""
    step = onboarding_next_step(_user(request))
    return redirect(step.url if step is not None else reverse("home"))


@login_required
@require_http_methods(["GET", "POST"])
def questionnaire_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    current = (user.questionnaire or {}).get("answers") or None
    form = QuestionnaireForm(request.POST or None, initial=current)
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire_submit(user=user, answers=form.cleaned_data, request=request)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            return redirect("onboarding_profile")
    context = {
        "form": form,
        "retake": bool(current),
        "steps": onboarding_steps(user),
        "is_onboarded": user.is_onboarded,
        "hide_next_step": True,  # the page is the step or shows the steps; no banner pointing at itself
    }
    return render(request, "accounts/questionnaire.html", context)


@login_required
def risk_profile_view(request: HttpRequest) -> HttpResponse:
    """The result: the profile, why (points per answer) and what it changes."""
    user = _user(request)
    record = user.questionnaire or {}
    if not record:
        return redirect("onboarding_questionnaire")
    answers = record.get("answers", {})
    points = record.get("points", {})
    rows = []
    for question in QUESTIONS:
        chosen = next((o for o in question.options if o.value == answers.get(question.key)), None)
        rows.append({"question": question.text, "answer": chosen.label if chosen else "-", "points": points.get(question.key, 0)})
    bands = []
    upper = MAX_SCORE
    for lower, name in TOLERANCE_THRESHOLDS:
        bands.append({"name": name, "lower": lower, "upper": upper, "current": name == user.risk_tolerance})
        upper = lower - 1
    context = {
        "record": record,
        "rows": rows,
        "bands": list(reversed(bands)),
        "profile": profile_for(user.risk_tolerance),
        "profiles": list(PROFILES.values()),
        "next_step": onboarding_next_step(user),
        "hide_next_step": True,  # the page ends with its own "Continue" button
    }
    return render(request, "accounts/risk_profile.html", context)


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


# --- Password reset by e-mail (accounts.password_reset) -------------------------------------------


@require_http_methods(["GET", "POST"])
@rate_limit("password_reset")
def password_reset_view(request: HttpRequest) -> HttpResponse:
    """Ask for a link; the answer is the same whether or not the address has an account."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password_reset_request(email=form.cleaned_data["email"], request=request)
        return redirect("password_reset_done")
    return render(request, "accounts/password_reset.html", {"form": form})


def password_reset_done_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html", {"message": RESET_CHECK_YOUR_EMAIL})


@require_http_methods(["GET", "POST"])
@rate_limit("password_reset")
def password_reset_confirm_view(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if password_reset_user(uidb64=uidb64, token=token) is None:
        return render(
            request, "accounts/password_reset_confirm.html", {"invalid": True, "message": RESET_INVALID_LINK}, status=400
        )
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_confirm(uidb64=uidb64, token=token, new_password=form.cleaned_data["new_password1"], request=request)
        except ApplicationError as exc:
            apply_service_errors(form, exc, {"new_password": "new_password1"})
        else:
            if request.user.is_authenticated:
                session_logout(request=request)
            return redirect("password_reset_complete")
    return render(request, "accounts/password_reset_confirm.html", {"invalid": False, "form": form})


def password_reset_complete_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_complete.html")
