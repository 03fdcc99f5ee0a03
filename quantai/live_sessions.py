"""A live websocket lives no longer than the signed-in session that opened it.

Two mechanisms, so neither a lost message nor a missed signal lets a socket outlive its session:

- **Ending a session closes its sockets.** Each socket joins its session's group
  (:func:`session_group`). Every way a session ends deletes it through the session engine (sign-out,
  "sign out everywhere else", a password change, account deletion, the timeouts enforced by
  ``accounts.middleware`` and the cleanup task), and the ``post_delete`` signal of Django's session
  row, or ``user_logged_out`` for a sign-out, sends ``session.end`` to that group once the
  transaction commits (:func:`quantai.notifier.notify_session_ended`). The consumer closes with 4401.
- **The consumer re-checks before it forwards.** :func:`live_session_state` re-reads the session:
  it must still exist, be signed in as the socket's user, be within the idle and absolute timeouts
  and carry the user's current session hash (a password set elsewhere, e.g. in the admin, changes
  it), and the user must still be active. The consumer asks before every private message, at most
  every ``LIVE_SESSION_RECHECK_SECONDS`` before a market-wide one, and on a timer at the moment the
  session would time out, so an idle session's socket closes when the session does.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete
from django.utils.crypto import constant_time_compare

from accounts.models import User
from accounts.sessions import LAST_SEEN_AT, STARTED_AT, session_expiry_reason, session_store, session_user_id
from accounts.signals import LOGIN_METHOD_ATTR


def session_group(session_key: str) -> str:
    """The channel-layer group of the sockets one browser session opened.

    A digest, not the key: the key is a credential and group names are stored in Redis.
    """
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class LiveSession:
    """A session a socket may go on serving."""

    #: Epoch seconds at which the idle or absolute timeout ends the session unless the user is active again.
    expires_at: float


def _hash_matches(user: User, session_hash: Any) -> bool:
    if not isinstance(session_hash, str) or not session_hash:
        return False
    if constant_time_compare(session_hash, user.get_session_auth_hash()):
        return True
    return any(constant_time_compare(session_hash, h) for h in user.get_session_auth_fallback_hash())


def live_session_state(session_key: str, user_id: int) -> LiveSession | None:
    """``None`` unless the session ``session_key`` is still a valid sign-in of active user ``user_id``.

    Reads the session without changing it (no activity recorded, nothing cycled or flushed). Runs one
    session read (the cache first) and one user query.
    """
    session = session_store(session_key)
    if session_user_id(session) != str(user_id) or session_expiry_reason(session) is not None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not _hash_matches(user, session.get(HASH_SESSION_KEY)):
        return None
    now = time.time()
    deadlines = [now + float(settings.LIVE_SESSION_CHECK_SECONDS)]
    started, last_seen = session.get(STARTED_AT), session.get(LAST_SEEN_AT)
    if isinstance(started, int | float):
        deadlines.append(started + settings.SESSION_ABSOLUTE_TIMEOUT)
    if isinstance(last_seen, int | float):
        deadlines.append(last_seen + settings.SESSION_IDLE_TIMEOUT)
    return LiveSession(expires_at=min(deadlines))


# --- signal receivers: they only tell the sockets; nothing else happens here -------------------------


def _session_deleted(sender: Any, instance: Session, **kwargs: Any) -> None:
    from quantai.notifier import notify_session_ended

    notify_session_ended(instance.session_key)


def _signed_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    # A session sign-out (an API token's sign-out sends the same signal and ends no session).
    session = getattr(request, "session", None)
    if session is None or user is None or getattr(request, LOGIN_METHOD_ATTR, "session") == "token":
        return
    if session.session_key and session_user_id(session) == str(user.pk):
        from quantai.notifier import notify_session_ended

        notify_session_ended(session.session_key)


def connect() -> None:
    """Called from ``QuantAIConfig.ready``."""
    post_delete.connect(_session_deleted, sender=Session, dispatch_uid="quantai.live_sessions.deleted")
    user_logged_out.connect(_signed_out, dispatch_uid="quantai.live_sessions.signed_out")
