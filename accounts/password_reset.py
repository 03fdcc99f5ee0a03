"""Password reset by e-mail: the same answer whether or not the address has an account.

- :func:`password_reset_request` mails a link to every active account with a usable password at
  that address (none: no mail), at most ``PASSWORD_RESET_MAILS_PER_ADDRESS`` an hour per address so
  nobody can flood a mailbox; the caller always answers "check your e-mail".
- The link carries Django's password-reset token (:mod:`accounts.tokens`): it expires after
  ``PASSWORD_RESET_LINK_SECONDS`` and works once, because setting the password (or signing in)
  changes what it signs.
- :func:`password_reset_confirm` sets the new password (every validator applies) and ends all the
  user's browser sessions and API tokens: whoever knew the old password is signed out.

Requests and resets are audited; the address itself is not stored for addresses without an account.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import reverse

from accounts.audit import audit_record
from accounts.mail import absolute_url, mail_user
from accounts.models import AuditAction, User
from accounts.staff import credentials_end
from accounts.tokens import password_reset_link_seconds, password_reset_tokens, uid_decode, uid_encode
from quantai.errors import RuleViolation

CHECK_YOUR_EMAIL = (
    "Check your e-mail. If an account uses that address, we sent it a link to choose a new password. "
    "The link works once, within an hour."
)
INVALID_LINK = "This password reset link is invalid, already used or expired. Ask for a new one."
MAILS_PER_ADDRESS_PER_HOUR = 3


def _address_allowance(email: str) -> bool:
    """Whether another reset mail may go to ``email`` this hour (counted in the default cache)."""
    key = "quantai:password_reset:" + hashlib.sha256(email.encode()).hexdigest()
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= MAILS_PER_ADDRESS_PER_HOUR


def password_reset_request(*, email: str, request: Any = None) -> int:
    """Mail a reset link to each active account with a usable password at ``email``; returns how many
    were mailed (callers never show it)."""
    email = User.objects.normalize_email(email.strip()).lower()
    users = [u for u in User.objects.filter(email__iexact=email, is_active=True) if u.has_usable_password()]
    if not users:
        audit_record(action=AuditAction.PASSWORD_RESET_REQUEST, request=request, details={"matched": False})
        return 0
    if not _address_allowance(email):
        for user in users:
            audit_record(
                action=AuditAction.PASSWORD_RESET_REQUEST,
                request=request,
                target=user,
                details={"matched": True, "mailed": False, "reason": "address_limit"},
            )
        return 0
    minutes = max(1, password_reset_link_seconds() // 60)
    for user in users:
        path = reverse("password_reset_confirm", args=[uid_encode(user), password_reset_tokens.make_token(user)])
        mailed = mail_user(
            to=user.email,
            template="password_reset",
            context={"username": user.username, "link": absolute_url(request, path), "minutes": minutes},
        )
        audit_record(
            action=AuditAction.PASSWORD_RESET_REQUEST,
            request=request,
            target=user,
            details={"matched": True, "mailed": mailed},
        )
    return len(users)


def password_reset_user(*, uidb64: str, token: str) -> User | None:
    """The active account a reset link is for, or ``None`` when the link is not valid."""
    pk = uid_decode(uidb64)
    if pk is None or not isinstance(token, str):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not password_reset_tokens.check_token(user, token):
        return None
    return user


def password_reset_confirm(*, uidb64: str, token: str, new_password: str, request: Any = None) -> dict[str, int]:
    """Set the new password from a valid link and end every session and API token of the user."""
    user = password_reset_user(uidb64=uidb64, token=token)
    if user is None:
        raise RuleViolation(INVALID_LINK, code="invalid_link")
    try:
        validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise RuleViolation(
            "Some fields are invalid.", fields={"new_password": list(exc.messages)}, code="password_policy"
        ) from None
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        # Re-checked under the lock: two uses of one link racing, only one sets a password.
        if locked.password != user.password or not password_reset_tokens.check_token(locked, token):
            raise RuleViolation(INVALID_LINK, code="invalid_link")
        locked.set_password(new_password)
        locked.save(update_fields=["password"])
        ended = credentials_end(user=locked)
        audit_record(action=AuditAction.PASSWORD_RESET, actor=locked, request=request, target=locked, details=ended)
    return ended
