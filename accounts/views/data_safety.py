"""The data-safety pages of account settings: "download my data" and account deletion."""

from __future__ import annotations

import tempfile

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.data_deletion import account_delete
from accounts.data_export import CONTENT_TYPES, FORMATS, export_filename, personal_data_write
from accounts.forms import apply_service_errors
from accounts.models import User
from accounts.ratelimits import rate_limit
from quantai.errors import ApplicationError

#: Exports up to this size stay in memory; larger ones spill to a temporary file while they stream out.
EXPORT_SPOOL_BYTES = 4 * 1024 * 1024


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        max_length=settings.PASSWORD_MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(label="I understand that this cannot be undone.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
@require_GET
def data_export_view(request: HttpRequest) -> HttpResponseBase:
    """Download everything stored about the signed-in user (``?format=json`` or ``csv``); only ever their own."""
    fmt = request.GET.get("format", "json")
    if fmt not in FORMATS:
        return HttpResponseBadRequest(f"Unknown format; use one of: {', '.join(FORMATS)}.")
    user = _user(request)
    spool = tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES)  # noqa: SIM115 - FileResponse closes it
    personal_data_write(user=user, fmt=fmt, out=spool)  # type: ignore[arg-type]
    spool.seek(0)
    response = FileResponse(
        spool,
        as_attachment=True,
        filename=export_filename(user, fmt),
        content_type=CONTENT_TYPES[fmt],  # type: ignore[arg-type]
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
@rate_limit("password_change", key="user")
def account_delete_view(request: HttpRequest) -> HttpResponse:
    """Explain what deletion removes and keeps; on POST with the password, delete and sign out."""
    user = _user(request)
    form = AccountDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account_delete(user=user, password=form.cleaned_data["password"])
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            # Not logout(): its signal would audit a sign-out by a user that no longer exists.
            request.session.flush()
            request.user = AnonymousUser()
            messages.success(request, "Your account and personal data were deleted. Thank you for using QuantAI.")
            return redirect("home")
    return render(request, "accounts/account_delete.html", {"form": form})
