"""Settings' "daily e-mail" switch: the opt-in to the digest of new recommendations and alerts (:mod:`insights.digest`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import User
from insights.digest import digest_preference_set


@login_required
@require_POST
def digest_preference(request: HttpRequest) -> HttpResponse:
    """Turn the daily digest on (the box ticked) or off, then back to Settings."""
    user: User = request.user  # type: ignore[assignment]
    enabled = request.POST.get("email_digest") == "on"
    digest_preference_set(user=user, enabled=enabled)
    if enabled and not user.email:
        messages.warning(request, "Daily e-mail is on, but your account has no e-mail address to send it to.")
    elif enabled:
        messages.success(request, f"Daily e-mail is on: new recommendations and alerts go to {user.email} after each close.")
    else:
        messages.success(request, "Daily e-mail is off.")
    return redirect("account_settings")
