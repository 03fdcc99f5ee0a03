"""Role checks for views: DRF permission classes and a decorator for pages. Refusals are audited."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission

from accounts.audit import audit_record
from accounts.models import AuditAction
from accounts.roles import ROLE_ORDER, Role, has_role
from quantai.errors import ApplicationError

F = TypeVar("F", bound=Callable[..., HttpResponse])


def _refuse(request: Any, role: Role) -> None:
    audit_record(
        action=AuditAction.PERMISSION_DENIED,
        request=request,
        details={"needed": role.value, "path": str(getattr(request, "path", ""))[:200]},
    )


TWO_STEP_REQUIRED_MESSAGE = (
    "This needs two-step sign-in. Set it up under Settings, then sign in with a code from your authenticator app."
)


class TwoStepRequired(ApplicationError):
    """A staff endpoint called without the second step: a session that did not pass it, or an API token of an account
    that has no authenticator (its tokens were then minted with the password alone)."""

    status_code = 403
    code = "two_step_required"


def _second_step_done(request: Any) -> bool:
    """Whether this API request carries the second step: a session that passed it, or a token of an account with
    two-step sign-in on (such an account's tokens are minted with a code, and turning it on revoked the older ones).
    Authenticated any other way (a test's forced user) it is not asked for."""
    from rest_framework.authentication import SessionAuthentication

    from accounts.authentication import TokenAuthentication
    from accounts.two_step import session_verified, two_step_enabled

    authenticator = getattr(request, "successful_authenticator", None)
    if isinstance(authenticator, SessionAuthentication):
        return session_verified(request.user)
    if isinstance(authenticator, TokenAuthentication):
        return two_step_enabled(request.user)
    return True


def staff_role(role: Role) -> bool:
    """Whether ``role`` is a staff role (analyst and up), whose pages and endpoints need two-step sign-in."""
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(Role.ANALYST)


class HasRole(BasePermission):
    """Signed in and holding ``role`` (or a higher one); for a staff role, with the second step (403
    ``two_step_required`` without it, as the admin and the staff pages require). Subclass and set ``role``."""

    role: Role = Role.INVESTOR
    message = "Your account's role does not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False  # DRF answers 401; nothing to audit
        if has_role(user, self.role):
            if staff_role(self.role) and not _second_step_done(request):
                raise TwoStepRequired(TWO_STEP_REQUIRED_MESSAGE)
            return True
        _refuse(request, self.role)
        return False


class IsAnalyst(HasRole):
    role = Role.ANALYST


class IsOperator(HasRole):
    role = Role.OPERATOR


def role_required(role: Role) -> Callable[[F], F]:
    """Page decorator: anonymous users go to sign-in (use with ``login_required``), others need ``role``.

    A staff page (analyst and up: System, Security, Learning and its "Train now") also needs a session that passed
    two-step sign-in, as the admin does (``accounts.admin_site``): a user whose role admits them but whose session
    has not is sent to the code page, or to set two-step sign-in up, and comes back afterwards.
    """
    from accounts.admin_site import two_step_required_redirect
    from accounts.two_step import session_verified

    staff_page = staff_role(role)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request.user, role):
                _refuse(request, role)
                raise PermissionDenied
            if staff_page and not session_verified(request.user):
                return two_step_required_redirect(request)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
