"""Two-step sign-in: a code from an authenticator app (TOTP) after the password, with single-use
recovery codes for a lost phone. Built on django-otp (``TOTPDevice``, ``StaticDevice``).

- Optional for investors: turned on from Settings ("Two-step sign-in") by confirming a first code;
  the recovery codes are shown once then. Turning it off needs the password and a code.
- Required for the admin (operators, administrators, analysts): ``accounts.admin_site`` refuses a
  session that has not passed the second step.
- Sign-in asks for the code after a correct password (the page's second step; the API's ``otp``
  field). A wrong code is a failed sign-in: audited and counted by django-axes toward the same
  lockout as a wrong password (per username and client address). django-otp also slows a device
  down after each failure (1 s, 2 s, 4 s, ...).
- Codes are ASCII only: six digits, or a recovery code of 16 base32 letters (dashes and spaces
  ignored), so no other script's digits slip through ``int()``.

Everything that changes a device is audited; the codes themselves never are.
"""

from __future__ import annotations

import base64
import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import django_otp
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from accounts.audit import audit_record
from accounts.authority import can_manage
from accounts.http import django_request
from accounts.models import AuditAction, User
from accounts.sessions import session_user_id, sessions_end
from accounts.signals import FAILED_FACTOR_ATTR
from accounts.staff import credentials_end, staff_refusal_record
from quantai.errors import ApplicationError, Conflict, ValidationFailed

RECOVERY_CODE_COUNT = 10
#: Longest text accepted where a code is asked for (a recovery code with dashes is 19).
CODE_MAX_LENGTH = 40
#: Session key of a sign-in whose password was right and whose code is still to come.
PENDING_KEY = "two_step_pending"

_TOTP_CODE = re.compile(r"[0-9]{6}")
_RECOVERY_CODE = re.compile(r"[a-z2-7]{16}")
_SEPARATORS = re.compile(r"[ \t\-]")

OTP_REQUIRED_MESSAGE = "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
OTP_INVALID_MESSAGE = "That code is not correct. Use the current code from your authenticator app, or an unused recovery code."


class OtpRequired(ApplicationError):
    """The password was right; the account has two-step sign-in on and no code came with it."""

    status_code = 401
    code = "otp_required"


class OtpInvalid(ApplicationError):
    """The code is wrong, already used, or the device is slowed down after recent failures."""

    status_code = 401
    code = "otp_invalid"


def otp_required_error() -> OtpRequired:
    return OtpRequired(OTP_REQUIRED_MESSAGE, fields={"otp": [OTP_REQUIRED_MESSAGE]})


def otp_invalid_error(wait_seconds: int = 0) -> OtpInvalid:
    message = invalid_code_message(wait_seconds)
    return OtpInvalid(message, fields={"otp": [message]})


def invalid_code_message(wait_seconds: int = 0) -> str:
    if wait_seconds > 0:
        unit = "second" if wait_seconds == 1 else "seconds"
        return f"Too many wrong codes in a row. Wait {wait_seconds} {unit}, then enter the code your app shows."
    return OTP_INVALID_MESSAGE


# --- Reading ----------------------------------------------------------------------------------


def normalize_code(code: Any) -> str | None:
    """The code as stored (``"123456"`` or 16 lower-case base32 letters), or ``None`` for any other shape."""
    if not isinstance(code, str) or len(code) > CODE_MAX_LENGTH or not code.isascii():
        return None
    compact = _SEPARATORS.sub("", code).lower()
    if _TOTP_CODE.fullmatch(compact) or _RECOVERY_CODE.fullmatch(compact):
        return compact
    return None


def format_recovery_code(token: str) -> str:
    return "-".join(token[i : i + 4] for i in range(0, len(token), 4))


def two_step_enabled(user: Any) -> bool:
    """Whether ``user`` has a confirmed authenticator (and so must give a code to sign in)."""
    if user is None or getattr(user, "pk", None) is None or not getattr(user, "is_authenticated", True):
        return False
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def session_verified(user: Any) -> bool:
    """Whether this request's session passed the second step (``OTPMiddleware`` sets ``is_verified``)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(callable(is_verified) and is_verified())


@dataclass(frozen=True)
class TwoStepStatus:
    enabled: bool
    enabled_at: datetime | None
    last_used_at: datetime | None
    recovery_codes_left: int


def two_step_status(user: User) -> TwoStepStatus:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        return TwoStepStatus(enabled=False, enabled_at=None, last_used_at=None, recovery_codes_left=0)
    left = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return TwoStepStatus(enabled=True, enabled_at=device.created_at, last_used_at=device.last_used_at, recovery_codes_left=left)


def setup_device(user: User) -> TOTPDevice | None:
    """The authenticator being set up (created by :func:`two_step_setup_begin`, not yet confirmed)."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def manual_entry_key(device: TOTPDevice) -> str:
    """The secret as people type it into an app: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def setup_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// link as a QR code, an SVG ``data:`` URI for an ``<img>`` (CSP allows data: images)."""
    import segno

    return str(segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2))


# --- Checking a code --------------------------------------------------------------------------


def _remaining_recovery_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user).count()


def code_verify(*, user: User, code: Any, request: Any = None) -> Device | None:
    """The device that accepts ``code`` (consuming it: a TOTP step or a recovery code is good once),
    or ``None``. Using a recovery code is audited. Failures are not recorded here (see callers)."""
    token = normalize_code(code)
    if token is None or user.pk is None:
        return None
    model: type[Device] = TOTPDevice if _TOTP_CODE.fullmatch(token) else StaticDevice
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return None  # recovery codes only count while two-step sign-in is on
    for persistent_id in [d.persistent_id for d in model.objects.filter(user=user, confirmed=True)]:
        device = django_otp.verify_token(user, persistent_id, token)
        if device is None:
            continue
        if isinstance(device, StaticDevice):
            audit_record(
                action=AuditAction.TWO_STEP_RECOVERY_USED,
                actor=user,
                request=request,
                target=user,
                details={"recovery_codes_left": _remaining_recovery_codes(user)},
            )
        return device
    return None


def code_wait_seconds(*, user: User, code: Any) -> int:
    """Seconds before the device that would check ``code`` accepts another try (django-otp waits
    1, 2, 4, ... s after successive wrong codes); 0 when it can check now."""
    token = normalize_code(code)
    if token is None or user.pk is None:
        return 0
    model: type[Device] = TOTPDevice if _TOTP_CODE.fullmatch(token) else StaticDevice
    wait = 0.0
    for device in model.objects.filter(user=user, confirmed=True):
        allowed, data = device.verify_is_allowed()
        until = (data or {}).get("locked_until")
        if not allowed and until is not None:
            wait = max(wait, (until - timezone.now()).total_seconds())
    return math.ceil(wait)


def code_check(*, user: User, code: Any, request: Any = None) -> tuple[Device | None, int]:
    """(the device that accepted ``code``, 0), or (``None``, seconds to wait before a device can check again)."""
    wait = code_wait_seconds(user=user, code=code)
    if wait:
        return None, wait
    return code_verify(user=user, code=code, request=request), 0


def sign_in_failure_record(*, request: Any, user: User) -> None:
    """A wrong code at sign-in is a failed sign-in: the audit log records it (factor ``two_step``)
    and django-axes counts it toward the lockout of this username from this client."""
    req = django_request(request)
    setattr(req, FAILED_FACTOR_ATTR, "two_step")
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=req)


def two_step_sign_in_check(*, request: Any, user: User, code: Any) -> Device:
    """After a correct password for a user with two-step sign-in on: the device that accepts ``code``.

    No code raises :class:`OtpRequired` (nothing counted: the client now asks the person); a wrong
    one is recorded as a failed sign-in and raises :class:`OtpInvalid`.
    """
    if code is None or code == "":
        raise otp_required_error()
    # A try while the device waits still counts: it is a guess all the same.
    device, wait = code_check(user=user, code=code, request=request)
    if device is None:
        sign_in_failure_record(request=request, user=user)
        raise otp_invalid_error(wait)
    return device


def session_verify(*, request: Any, device: Device) -> None:
    """Mark the signed-in session as having passed the second step (new session key)."""
    req = django_request(request)
    req.session.cycle_key()
    django_otp.login(req, device)


def _refusal_record(*, user: User, request: Any, context: str, reason: str) -> None:
    audit_record(
        action=AuditAction.TWO_STEP_FAILED,
        actor=user,
        request=request,
        target=user,
        details={"context": context, "reason": reason},
    )


# --- Signing in: the password is right, the code is still to come ------------------------------


@dataclass(frozen=True)
class PendingSignIn:
    user: User
    backend: str
    next_url: str


def pending_sign_in_start(*, request: Any, user: User, next_url: str = "") -> None:
    """Remember, in this (not yet signed-in) session, that ``user``'s password was right."""
    req = django_request(request)
    req.session.cycle_key()
    req.session[PENDING_KEY] = {
        "user_id": user.pk,
        "backend": getattr(user, "backend", None) or "django.contrib.auth.backends.ModelBackend",
        # A password changed meanwhile (reset, by staff) voids the pending sign-in.
        "auth_hash": user.get_session_auth_hash(),
        "started": int(time.time()),
        "next": next_url[:2000],
    }


def pending_sign_in_clear(request: Any) -> None:
    django_request(request).session.pop(PENDING_KEY, None)


def pending_sign_in(request: Any) -> PendingSignIn | None:
    """The sign-in waiting for its code in this session, if it is still fresh and valid."""
    session = django_request(request).session
    data = session.get(PENDING_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("user_id"), int):
        return None
    user = User.objects.filter(pk=int(data["user_id"]), is_active=True).first()
    fresh = time.time() - float(data.get("started", 0)) <= settings.TWO_STEP_PENDING_SECONDS
    if user is None or not fresh or not constant_time_compare(str(data.get("auth_hash", "")), user.get_session_auth_hash()):
        session.pop(PENDING_KEY, None)
        return None
    return PendingSignIn(user=user, backend=str(data["backend"]), next_url=str(data.get("next") or ""))


# --- Turning it on and off -----------------------------------------------------------------------


def two_step_setup_begin(*, user: User) -> TOTPDevice:
    """A fresh secret for an authenticator app (any earlier unfinished set-up is dropped)."""
    if two_step_enabled(user):
        raise Conflict("Two-step sign-in is already on.", code="two_step_enabled")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    # 10 random bytes = 80 bits = 16 base32 letters, which is what StaticToken holds.
    tokens = [base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=t) for t in tokens])
    return [format_recovery_code(t) for t in tokens]


def _current_session_key(request: Any, user: User) -> str | None:
    req = django_request(request) if request is not None else None
    session = getattr(req, "session", None)
    if session is None or session.session_key is None or session_user_id(session) != str(user.pk):
        return None
    return session.session_key  # type: ignore[no-any-return]


def two_step_setup_confirm(*, user: User, code: Any, request: Any = None) -> list[str]:
    """Turn two-step sign-in on with the first code from the app being set up.

    Returns the recovery codes (shown once: only the server's copy remains). Every other session and
    every API token of the user ends, since they were opened with the password alone; this session
    counts as having passed the second step.
    """
    device = setup_device(user)
    if device is None or two_step_enabled(user):
        raise Conflict("Start the set-up again.", code="two_step_not_started")
    token = normalize_code(code)
    accepted = False
    if token is not None and _TOTP_CODE.fullmatch(token):
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            accepted = bool(device.verify_token(token))
    if not accepted:
        _refusal_record(user=user, request=request, context="set_up", reason="code")
        message = "That code is not correct. Enter the 6-digit code your app shows now."
        raise ValidationFailed("Some fields are invalid.", fields={"otp": [message]})
    keep = _current_session_key(request, user)
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _recovery_codes_replace(user)
        tokens_revoked, _ = AuthToken.objects.filter(user=user).delete()
        ended = sessions_end(user=user, keep_session_key=keep)
        audit_record(
            action=AuditAction.TWO_STEP_ENABLED,
            actor=user,
            request=request,
            target=user,
            details={"recovery_codes": len(codes), "sessions_ended": ended, "tokens_revoked": tokens_revoked},
        )
    if keep is not None:
        session_verify(request=request, device=device)
    return codes


def _devices_delete(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def two_step_disable(*, user: User, password: str, code: Any, request: Any = None) -> None:
    """Turn two-step sign-in off: needs the password and a code (app or recovery)."""
    if not two_step_enabled(user):
        raise Conflict("Two-step sign-in is already off.", code="two_step_disabled")
    if not user.check_password(password):
        _refusal_record(user=user, request=request, context="turn_off", reason="password")
        raise ValidationFailed("Some fields are invalid.", fields={"password": ["Your password is not correct."]})
    device, wait = code_check(user=user, code=code, request=request)
    if device is None:
        _refusal_record(user=user, request=request, context="turn_off", reason="code")
        raise ValidationFailed("Some fields are invalid.", fields={"otp": [invalid_code_message(wait)]})
    with transaction.atomic():
        _devices_delete(user)
        audit_record(action=AuditAction.TWO_STEP_DISABLED, actor=user, request=request, target=user, details={"via": "settings"})


def recovery_codes_renew(*, user: User, code: Any, request: Any = None) -> list[str]:
    """New recovery codes for old ones (all old ones stop working); needs a code."""
    if not two_step_enabled(user):
        raise Conflict("Turn two-step sign-in on first.", code="two_step_disabled")
    device, wait = code_check(user=user, code=code, request=request)
    if device is None:
        _refusal_record(user=user, request=request, context="recovery_codes", reason="code")
        raise ValidationFailed("Some fields are invalid.", fields={"otp": [invalid_code_message(wait)]})
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        audit_record(
            action=AuditAction.TWO_STEP_CODES_RENEWED,
            actor=user,
            request=request,
            target=user,
            details={"recovery_codes": len(codes)},
        )
    return codes


def two_step_reset(*, user: User, actor: User | None = None, request: Any = None) -> bool:
    """Turn two-step sign-in off for someone who lost their phone and their recovery codes.

    From the server's shell (``manage.py two_step_reset``) when ``actor`` is ``None``; otherwise
    only by someone who may manage ``user`` (:mod:`accounts.authority`). Their sessions and API
    tokens end, so the next sign-in is with the password, then they set it up again.
    Returns whether anything was turned off.
    """
    if actor is not None and not can_manage(actor, user):
        staff_refusal_record(request=request, actor=actor, target=user, attempted="two_step_reset")
        raise PermissionDenied("You may not change this account.")
    if not TOTPDevice.objects.filter(user=user).exists() and not StaticDevice.objects.filter(user=user).exists():
        return False
    with transaction.atomic():
        _devices_delete(user)
        ended = credentials_end(user=user)
        audit_record(
            action=AuditAction.TWO_STEP_DISABLED,
            actor=actor,
            request=request,
            target=user,
            details={"via": "staff" if actor is not None else "command", **ended},
        )
    return True
