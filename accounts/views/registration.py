"""Registration: the form, "check your e-mail", and the link that activates the account and signs in
(``accounts.registration``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import RegistrationForm, apply_service_errors
from accounts.ratelimits import rate_limit
from accounts.registration import CHECK_YOUR_EMAIL, INVALID_LINK, registration_confirm, registration_request, registration_user
from accounts.services import session_login, session_logout
from quantai.errors import ApplicationError


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
