"""Signal receivers that only RECORD (audit log); no business logic lives here.

Connected in ``AccountsConfig.ready``: Django's sign-in/sign-out/failed sign-in signals and
axes' lockout signal.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from accounts.audit import audit_record
from accounts.models import AuditAction

LOGIN_METHOD_ATTR = "quantai_login_method"
#: Set on the request by ``accounts.two_step`` when the failed factor was the code.
FAILED_FACTOR_ATTR = "quantai_failed_factor"
_USERNAME_MAX = 150


def _method(request: Any) -> str:
    return str(getattr(request, LOGIN_METHOD_ATTR, "session"))


def record_login(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    audit_record(action=AuditAction.LOGIN, actor=user, request=request, details={"method": _method(request)})


def record_logout(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    audit_record(action=AuditAction.LOGOUT, actor=user, request=request, details={"method": _method(request)})


def record_login_failed(sender: Any, credentials: dict[str, Any] | None = None, request: Any = None, **kwargs: Any) -> None:
    username = (credentials or {}).get("username")
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        request=request,
        details={
            "username": str(username)[:_USERNAME_MAX] if username is not None else None,
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
            # "password", or "two_step" for a wrong code after a right password (accounts.two_step).
            "factor": str(getattr(request, FAILED_FACTOR_ATTR, "password")),
        },
    )


def record_lockout(sender: Any, request: Any = None, username: Any = None, ip_address: Any = None, **kwargs: Any) -> None:
    # axes sends this both when a client becomes locked out and on each attempt refused while it
    # is; only the first (when axes has just counted the failures) is a lockout event. Refused
    # attempts are already recorded as login_failed with locked_out=true.
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    audit_record(
        action=AuditAction.LOCKOUT,
        request=request,
        details={"username": str(username)[:_USERNAME_MAX] if username is not None else None, "failures": failures},
    )


def connect() -> None:
    user_logged_in.connect(record_login, dispatch_uid="accounts.audit.login")
    user_logged_out.connect(record_logout, dispatch_uid="accounts.audit.logout")
    user_login_failed.connect(record_login_failed, dispatch_uid="accounts.audit.login_failed")
    user_locked_out.connect(record_lockout, dispatch_uid="accounts.audit.lockout")
