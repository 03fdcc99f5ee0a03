"""The operators' security dashboard (server-rendered; charts drawn by ``static/js/security_dashboard.js``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import AuditAction
from accounts.permissions import role_required
from accounts.roles import Role
from accounts.security import (
    EVENTS_PER_PAGE,
    SESSION_ROWS,
    security_active_sessions,
    security_dashboard_data,
    security_recent_events,
)


# login_required first: anonymous visitors go to sign-in instead of being audited as refused.
@login_required
@role_required(Role.OPERATOR)
@require_GET
@never_cache
def security_dashboard_view(request: HttpRequest) -> HttpResponse:
    """Failed sign-ins and lockouts over time, rate-limit hits by endpoint, active sessions and the
    audit log (50 a page, optionally one action), for operators and administrators only."""
    now = timezone.now()
    data = security_dashboard_data(now=now)
    action = request.GET.get("action") or ""
    if action not in AuditAction.values:
        action = ""
    events = Paginator(security_recent_events(action=action or None), EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "now": now,
        "data": data,
        "totals": data["totals"],
        "rate_limits": data["rate_limits"],
        "sessions": list(security_active_sessions(now=now)[:SESSION_ROWS]),
        "events": events,
        "actions": AuditAction.choices,
        "action": action,
        "summary_url": reverse("api-auth-security-summary"),
        "hide_next_step": True,
    }
    return render(request, "accounts/security_dashboard.html", context)
