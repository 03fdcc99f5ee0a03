"""Signed-in browser sessions: timeouts, the ``UserSession`` rows beside Django's sessions, ending them.

Two timestamps live in the session itself (epoch seconds): when the user signed in and when the
session was last seen. ``accounts.middleware.SessionSecurityMiddleware`` checks them on every
request and calls the functions here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase

from accounts.http import client_ip, client_user_agent
from accounts.models import User, UserSession

STARTED_AT = "_quantai_started_at"
LAST_SEEN_AT = "_quantai_last_seen_at"

IDLE = "idle"
ABSOLUTE = "absolute"


def session_store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key)  # type: ignore[no-any-return]


def session_user_id(session: SessionBase) -> str | None:
    """The user id a session is signed in as (``None`` for anonymous or token-only requests)."""
    value = session.get(SESSION_KEY)
    return str(value) if value is not None else None


def session_expiry_reason(session: SessionBase, *, now: float | None = None) -> str | None:
    """``"absolute"`` or ``"idle"`` when the signed-in session is past a timeout, else ``None``."""
    now = time.time() if now is None else now
    started = session.get(STARTED_AT)
    last_seen = session.get(LAST_SEEN_AT)
    if isinstance(started, int | float) and now - started >= settings.SESSION_ABSOLUTE_TIMEOUT:
        return ABSOLUTE
    if isinstance(last_seen, int | float) and now - last_seen >= settings.SESSION_IDLE_TIMEOUT:
        return IDLE
    return None


def _aware(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def user_session_start(*, request: Any, user: User) -> UserSession:
    """Mark a freshly signed-in session (timestamps in the session, a ``UserSession`` row)."""
    now = time.time()
    session = request.session
    session[STARTED_AT] = now
    session[LAST_SEEN_AT] = now
    if session.session_key is None:
        session.save()
    row, _ = UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "created_at": _aware(now),
            "last_seen": _aware(now),
            "ip": client_ip(request),
            "user_agent": client_user_agent(request),
        },
    )
    return row


def user_session_touch(*, request: Any, user: User) -> None:
    """Record activity, writing at most once per ``SESSION_ACTIVITY_WRITE_INTERVAL`` seconds."""
    now = time.time()
    session = request.session
    last_seen = session.get(LAST_SEEN_AT)
    if isinstance(last_seen, int | float) and now - last_seen < settings.SESSION_ACTIVITY_WRITE_INTERVAL:
        return
    session[LAST_SEEN_AT] = now
    updated = UserSession.objects.filter(session_key=session.session_key).update(last_seen=_aware(now))
    if not updated:
        # A session signed in before tracking existed (or whose row was cleaned up): adopt it.
        started = session.get(STARTED_AT)
        UserSession.objects.update_or_create(
            session_key=session.session_key,
            defaults={
                "user": user,
                "created_at": _aware(started if isinstance(started, int | float) else now),
                "last_seen": _aware(now),
                "ip": client_ip(request),
                "user_agent": client_user_agent(request),
            },
        )


def user_session_rekey(*, old_key: str, new_key: str) -> None:
    """Follow Django's session-key rotation (sign-in, password change) so the row stays attached."""
    if old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def user_session_forget(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def sessions_end(*, user: User, keep_session_key: str | None = None) -> int:
    """Delete every server-side session of ``user`` except ``keep_session_key``; returns how many.

    Tracked sessions are found through ``UserSession``; deleting through the session engine also
    clears the cached copy, so the old cookie is refused at once.
    """
    rows = UserSession.objects.filter(user=user)
    if keep_session_key:
        rows = rows.exclude(session_key=keep_session_key)
    keys = list(rows.values_list("session_key", flat=True))
    store = session_store()
    for key in keys:
        store.delete(key)
    UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)
