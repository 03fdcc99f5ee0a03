"""The one way to write the audit log: :func:`audit_record`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from django.db import models

from accounts.http import client_ip, client_user_agent
from accounts.models import AuditAction, AuditEvent, User

logger = logging.getLogger("accounts.audit")

#: Keys whose values are never stored, whatever the caller passes.
_SECRET_KEY = re.compile(r"pass|secret|token|key|authorization|cookie|csrf|digest|credential", re.IGNORECASE)
_REDACTED = "[redacted]"
_MAX_STRING = 500
_MAX_DEPTH = 4


def _scrub(value: Any, depth: int = 0) -> Any:
    """Drop secret-looking keys and bound the size of what is stored."""
    if depth > _MAX_DEPTH:
        return "[truncated]"
    if isinstance(value, Mapping):
        return {str(k)[:100]: _scrub_item(str(k), v, depth) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v, depth + 1) for v in list(value)[:50]]
    if isinstance(value, str):
        return value[:_MAX_STRING]
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:_MAX_STRING]


def _scrub_item(key: str, value: Any, depth: int) -> Any:
    # Counts and flags under a secret-sounding key ("tokens_revoked": 2) are not secrets.
    if _SECRET_KEY.search(key) and not (value is None or isinstance(value, bool | int | float)):
        return _REDACTED
    return _scrub(value, depth + 1)


def _request_user(request: Any) -> User | None:
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user  # type: ignore[no-any-return]
    return None


def audit_record(
    *,
    action: AuditAction | str,
    actor: User | None = None,
    request: Any = None,
    target: models.Model | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log (and one line to the ``accounts.audit`` logger).

    ``actor`` defaults to the request's signed-in user. ``request`` supplies the client IP (same
    resolution as lockouts) and user agent. ``target`` is the object acted on. ``details`` is
    scrubbed: keys that look like passwords, tokens, keys or cookies are replaced by
    ``[redacted]``, so callers cannot leak a secret into the log by mistake.
    """
    action = AuditAction(action)
    if actor is None:
        actor = _request_user(request)
    event = AuditEvent(
        actor=actor,
        actor_username=actor.get_username()[:150] if actor is not None else "",
        action=action,
        target_type=f"{target._meta.app_label}.{target._meta.model_name}" if target is not None else "",
        target_id=str(target.pk)[:64] if target is not None and target.pk is not None else "",
        ip=client_ip(request),
        user_agent=client_user_agent(request),
        details=_scrub(dict(details or {})),
    )
    event.save()
    logger.info(
        "audit %s actor=%s target=%s:%s ip=%s",
        event.action,
        event.actor_id or "-",
        event.target_type or "-",
        event.target_id or "-",
        event.ip or "-",
    )
    return event
