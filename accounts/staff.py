"""Changes staff make to other people's accounts (the admin, commands): checked and audited here.

The rule (who may manage whom) lives in :mod:`accounts.authority`; these functions refuse what it
refuses, write one audit event per change, and end the target's sessions and API tokens when the
change should sign them out (a new password set by staff, a deactivation).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from knox.models import AuthToken

from accounts.audit import audit_record
from accounts.authority import PROTECTED_FIELDS, ROLE_FIELDS, can_change_roles, can_manage, role_held
from accounts.models import AuditAction, User
from accounts.roles import role_of
from accounts.sessions import sessions_end


def credentials_end(*, user: User) -> dict[str, int]:
    """End every browser session and delete every API token of ``user``."""
    tokens, _ = AuthToken.objects.filter(user=user).delete()
    return {"sessions_ended": sessions_end(user=user), "tokens_revoked": tokens}


def staff_refusal_record(*, request: Any, target: User, attempted: str, actor: Any = None) -> None:
    """Audit a refused attempt on someone the actor (default: the request's user) may not manage."""
    audit_record(
        action=AuditAction.PERMISSION_DENIED,
        actor=actor,
        request=request,
        target=target,
        details={
            "attempted": attempted,
            "target_role": role_held(target).value,
            "path": str(getattr(request, "path", ""))[:200],
        },
    )


def staff_change_check(*, actor: Any, target: User, fields: Iterable[str], request: Any = None) -> list[str]:
    """The protected fields among ``fields``; raises ``PermissionDenied`` (audited) when ``actor``
    may not change them on ``target`` (``target`` as stored, before the change)."""
    changed = [f for f in fields if f in PROTECTED_FIELDS]
    if not changed:
        return changed
    if not can_manage(actor, target) or (set(changed) & set(ROLE_FIELDS) and not can_change_roles(actor, target)):
        staff_refusal_record(request=request, actor=actor, target=target, attempted="change:" + ",".join(sorted(changed)))
        raise PermissionDenied("You may not change this account.")
    return changed


def staff_change_record(
    *, actor: Any, before: User, after: User, fields: Iterable[str], via: str, request: Any = None
) -> dict[str, int] | None:
    """Audit a change of protected fields already made by ``actor``; signs the target out everywhere
    when it was deactivated. Returns what was ended, if anything."""
    fields = sorted(f for f in fields if f in PROTECTED_FIELDS)
    if not fields:
        return None
    details: dict[str, Any] = {"fields": fields, "via": via, "target_role": role_held(before).value}
    if "is_active" in fields:
        details["is_active"] = after.is_active
    if "username" in fields:
        details["username_before"] = before.username
    ended = None
    with transaction.atomic():
        if "is_active" in fields and not after.is_active:
            ended = credentials_end(user=after)
            details.update(ended)
        audit_record(action=AuditAction.ACCOUNT_CHANGE, actor=actor, request=request, target=after, details=details)
    return ended


def staff_password_set_record(*, actor: Any, target: User, via: str, request: Any = None) -> dict[str, int]:
    """After staff set ``target``'s password: end its sessions and tokens, and audit it."""
    with transaction.atomic():
        ended = credentials_end(user=target)
        audit_record(
            action=AuditAction.PASSWORD_CHANGE,
            actor=actor,
            request=request,
            target=target,
            details={"via": via, "by_staff": True, "target_role": role_held(target).value, **ended},
        )
    return ended


def staff_delete_check(*, actor: Any, targets: Iterable[User], request: Any = None) -> list[User]:
    """Refuse (audited) the deletion when any target is not below ``actor``."""
    targets = list(targets)
    for target in targets:
        if not can_manage(actor, target):
            staff_refusal_record(request=request, actor=actor, target=target, attempted="delete")
            raise PermissionDenied("You may not delete this account.")
    return targets


def staff_delete_record(*, actor: Any, target: User, via: str, request: Any = None) -> None:
    audit_record(
        action=AuditAction.ACCOUNT_DELETE,
        actor=actor,
        request=request,
        target=target,
        details={"via": via, "username": target.username, "role": (role_of(target) or role_held(target)).value},
    )
