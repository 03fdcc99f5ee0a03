"""Signing in and out, and resetting a forgotten password by e-mail (``accounts.password_reset``).

A user still onboarding is taken to their next step after signing in; one with two-step sign-in on goes to the
code page first (:mod:`accounts.views.two_step`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from accounts.forms import LoginForm, PasswordResetRequestForm, SetPasswordForm, apply_service_errors
from accounts.models import User
from accounts.password_reset import CHECK_YOUR_EMAIL as RESET_CHECK_YOUR_EMAIL
from accounts.password_reset import INVALID_LINK as RESET_INVALID_LINK
from accounts.password_reset import password_reset_confirm, password_reset_request, password_reset_user
from accounts.ratelimits import rate_limit
from accounts.selectors import onboarding_next_step
from accounts.services import session_login, session_logout
from accounts.two_step import pending_sign_in_start, two_step_enabled
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
