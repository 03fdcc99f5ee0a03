"""Pages of two-step sign-in (``accounts.two_step``): the code after the password, and Settings >
Two-step sign-in (set up, recovery codes, turn off). Pages that show a secret are never cached."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.forms import TwoStepCodeForm, TwoStepDisableForm, TwoStepSetupForm, apply_service_errors
from accounts.lockout import lockout_response
from accounts.models import User
from accounts.ratelimits import rate_limit
from accounts.roles import is_analyst
from accounts.selectors import onboarding_next_step
from accounts.services import session_login
from accounts.two_step import (
    RECOVERY_CODE_COUNT,
    OtpInvalid,
    manual_entry_key,
    pending_sign_in,
    pending_sign_in_clear,
    recovery_codes_renew,
    session_verified,
    session_verify,
    setup_device,
    setup_qr_data_uri,
    two_step_disable,
    two_step_enabled,
    two_step_setup_begin,
    two_step_setup_confirm,
    two_step_sign_in_check,
    two_step_status,
)
from quantai.errors import ApplicationError


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def safe_next(request: HttpRequest, url: str | None) -> str:
    """``url`` when it stays on this site, else ``""``."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return ""


def _next_param(request: HttpRequest) -> str:
    return safe_next(request, request.POST.get("next") or request.GET.get("next"))


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _after_sign_in(request: HttpRequest, user: User, next_url: str) -> str:
    target = safe_next(request, next_url)
    if target:
        return target
    step = onboarding_next_step(user)
    return step.url if step is not None else resolve_url(settings.LOGIN_REDIRECT_URL)


@never_cache
@require_http_methods(["GET", "POST"])
@rate_limit("login")
def login_two_step_view(request: HttpRequest) -> HttpResponse:
    """The code after a correct password; or, for a signed-in session that has not passed the second
    step yet (the admin asks for it), the same code to pass it now. A wrong code counts toward the
    sign-in lockout like a wrong password."""
    pending = None
    if request.user.is_authenticated:
        subject = _user(request)
        next_url = _next_param(request)
        if session_verified(subject) or not two_step_enabled(subject):
            return redirect(_after_sign_in(request, subject, next_url))
    else:
        pending = pending_sign_in(request)
        if pending is None:
            messages.info(request, "Sign in with your password first (the code page waits five minutes).")
            return redirect("login")
        subject, next_url = pending.user, pending.next_url

    form = TwoStepCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        credentials = {"username": subject.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            return lockout_response(request, None, credentials)
        try:
            device = two_step_sign_in_check(request=request, user=subject, code=form.cleaned_data["otp"])
        except OtpInvalid as exc:
            form.add_error("otp", exc.message)
        else:
            if pending is not None:
                pending_sign_in_clear(request)
                subject.backend = pending.backend
                session_login(request=request, user=subject, device=device)
            else:
                session_verify(request=request, device=device)
            return redirect(_after_sign_in(request, subject, next_url))
    context = {"form": form, "step_up": pending is None, "next": next_url if pending is None else ""}
    return render(request, "accounts/login_two_step.html", context)


@login_required
def two_step_settings_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    context: dict[str, Any] = {
        "status": two_step_status(user),
        "next": _next_param(request),
        "admin_needs_it": is_analyst(user),
        "session_verified": session_verified(user),
    }
    return render(request, "accounts/two_step.html", context)


def _codes_page(request: HttpRequest, codes: list[str], *, next_url: str, first: bool) -> HttpResponse:
    return render(request, "accounts/two_step_codes.html", {"codes": codes, "next": next_url, "first": first})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@rate_limit("two_step", key="user")
def two_step_setup_view(request: HttpRequest) -> HttpResponse:
    """POST ``begin``: a new secret. GET: its QR code and key. POST ``otp``: the first code turns it on."""
    user = _user(request)
    next_url = _next_param(request)
    settings_url = _with_next(reverse("two_step_settings"), next_url)
    if request.method == "POST" and "begin" in request.POST:
        try:
            two_step_setup_begin(user=user)
        except ApplicationError as exc:
            messages.info(request, exc.message)
            return redirect(settings_url)
        return redirect(_with_next(reverse("two_step_setup"), next_url))
    device = setup_device(user)
    if device is None or two_step_enabled(user):
        return redirect(settings_url)
    form = TwoStepSetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = two_step_setup_confirm(user=user, code=form.cleaned_data["otp"], request=request)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Two-step sign-in is on. Other sessions and API tokens were signed out.")
            return _codes_page(request, codes, next_url=next_url, first=True)
    context = {
        "form": form,
        "qr": setup_qr_data_uri(device),
        "key": manual_entry_key(device),
        "uri": device.config_url,
        "next": next_url,
    }
    return render(request, "accounts/two_step_setup.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@rate_limit("two_step", key="user")
def two_step_recovery_codes_view(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), after a code."""
    user = _user(request)
    if not two_step_enabled(user):
        return redirect("two_step_settings")
    form = TwoStepCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = recovery_codes_renew(user=user, code=form.cleaned_data["otp"], request=request)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            return _codes_page(request, codes, next_url="", first=False)
    return render(request, "accounts/two_step_recovery.html", {"form": form, "count": RECOVERY_CODE_COUNT})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@rate_limit("two_step", key="user")
def two_step_disable_view(request: HttpRequest) -> HttpResponse:
    """Turn two-step sign-in off, with the password and a code."""
    user = _user(request)
    if not two_step_enabled(user):
        return redirect("two_step_settings")
    form = TwoStepDisableForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_step_disable(user=user, password=form.cleaned_data["password"], code=form.cleaned_data["otp"], request=request)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, "Two-step sign-in is off. Your password alone signs you in now.")
            return redirect("two_step_settings")
    admin_needs_it = is_analyst(user)
    return render(request, "accounts/two_step_disable.html", {"form": form, "admin_needs_it": admin_needs_it})
