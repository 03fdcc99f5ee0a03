"""Session timeouts and per-session activity tracking."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from accounts.audit import audit_record
from accounts.http import wants_json
from accounts.models import AuditAction
from accounts.sessions import (
    ABSOLUTE,
    STARTED_AT,
    session_expiry_reason,
    session_user_id,
    user_session_forget,
    user_session_rekey,
    user_session_start,
    user_session_touch,
)

_EXPIRED_MESSAGES = {
    ABSOLUTE: "You have been signed in for a long time, so your session ended. Please sign in again.",
    "idle": "Your session ended after a period of inactivity. Please sign in again.",
}


class SessionSecurityMiddleware:
    """Ends signed-in sessions past ``SESSION_IDLE_TIMEOUT`` or ``SESSION_ABSOLUTE_TIMEOUT``.

    Before the view: an expired session is ended server-side (the request continues as anonymous,
    so pages redirect to sign-in and the API answers 401); a live one records activity at most
    once a minute. After the view: a session that has just signed in gets its timestamps and a
    ``UserSession`` row (whatever view signed it in, the admin's included); a rotated session key
    is followed; a session that signed out loses its row.

    Token-authenticated API requests carry no signed-in session and are not touched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        key_before = session.session_key
        user_before = session_user_id(session) if key_before else None

        if user_before is not None and request.user.is_authenticated:
            reason = session_expiry_reason(session)
            if reason is not None:
                user = request.user
                user_session_forget(session_key=key_before)
                logout(request)
                user_before = None
                key_before = None
                audit_record(action=AuditAction.SESSION_EXPIRED, actor=user, request=request, details={"reason": reason})
                if not wants_json(request):
                    messages.info(request, _EXPIRED_MESSAGES[reason], fail_silently=True)
            else:
                user_session_touch(request=request, user=request.user)  # type: ignore[arg-type]

        response = self.get_response(request)

        key_after = session.session_key
        user_after = session_user_id(session) if key_after else None
        if user_before is not None and user_after != user_before:
            user_session_forget(session_key=key_before)
        if user_after is not None and request.user.is_authenticated:
            if user_after != user_before or STARTED_AT not in session:
                user_session_start(request=request, user=request.user)  # type: ignore[arg-type]
            elif key_before and key_after and key_after != key_before:
                user_session_rekey(old_key=key_before, new_key=key_after)
        return response
