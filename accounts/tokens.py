"""One-time links sent by e-mail: registration confirmation and password reset.

Both are Django's ``PasswordResetTokenGenerator`` (HMAC of the user's state and a timestamp, valid
for ``PASSWORD_RESET_TIMEOUT`` seconds) under different salts, so a token of one kind is never
accepted as the other. A token is single-use because the state it signs changes when it is used:
the password hash for a reset, the pending flag for a confirmation.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from accounts.models import User


class RegistrationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.tokens.RegistrationTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        return f"{user.pk}{user.password}{user.is_active}{user.registration_pending}{timestamp}{user.email}"


class PasswordResetTokens(PasswordResetTokenGenerator):
    """Django's hash value (pk, password hash, last_login, timestamp, e-mail): a new password or a
    sign-in after the link was sent makes it invalid. Valid ``PASSWORD_RESET_LINK_SECONDS`` (default
    one hour), shorter than a registration link: a reset link is a key to an existing account."""

    key_salt = "accounts.tokens.PasswordResetTokens"

    def check_token(self, user: Any, token: Any) -> bool:
        if not (user and isinstance(token, str)) or len(token) > 100:
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if self._num_seconds(self._now()) - ts > password_reset_link_seconds():
            return False
        return super().check_token(user, token)


def password_reset_link_seconds() -> int:
    return int(getattr(settings, "PASSWORD_RESET_LINK_SECONDS", 3600))


registration_tokens = RegistrationTokenGenerator()
password_reset_tokens = PasswordResetTokens()


def uid_encode(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def uid_decode(uidb64: str) -> int | None:
    """The user id in a link, or ``None`` when it is not one (never raises on hostile input)."""
    if not isinstance(uidb64, str) or len(uidb64) > 64:
        return None
    try:
        text = force_str(urlsafe_base64_decode(uidb64))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
