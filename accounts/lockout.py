"""What a locked-out sign-in gets back (``AXES_LOCKOUT_CALLABLE``) and until when the lock holds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.http import client_ip, wants_json
from quantai.errors import json_error_response

LOCKED_OUT = "locked_out"


def lockout_ends_at(request: HttpRequest, credentials: dict[str, Any] | None = None) -> datetime:
    """When the lock on this username from this IP lifts: the last counted failure plus the cool-off."""
    cool_off = get_cool_off(request) or timedelta(0)
    username = get_client_username(request, credentials)
    ip = getattr(request, "axes_ip_address", None) or client_ip(request)
    last = AccessAttempt.objects.filter(username=username, ip_address=ip).aggregate(last=Max("attempt_time"))["last"]
    return (last or timezone.now()) + cool_off


def shown_lock_end(until: datetime) -> datetime:
    """The lock's end as people read it: rounded UP to the whole minute, so "try again after 14:04"
    is never earlier than the lock really lifts (``Retry-After`` keeps the exact seconds)."""
    if until.second or until.microsecond:
        return until.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return until


def lockout_message(until: datetime) -> str:
    return f"Too many failed sign-in attempts. Try again after {shown_lock_end(until).astimezone(UTC):%H:%M} UTC."


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 with ``Retry-After``: the common error JSON for the API, a page for browsers."""
    until = lockout_ends_at(request, credentials)
    retry_after = max(1, math.ceil((until - timezone.now()).total_seconds()))
    message = lockout_message(until)
    if wants_json(request):
        return json_error_response(
            request, status_code=429, code=LOCKED_OUT, message=message, headers={"Retry-After": str(retry_after)}
        )
    response = render(request, "accounts/locked_out.html", {"until": shown_lock_end(until), "message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
