"""Every write of the accounts app: registration, onboarding, sign-in, passwords, sessions, roles, cleanup.

Pages (``accounts.views``) and the API (``accounts.api.views``) call these; neither writes by itself.
Each raises :class:`quantai.errors.ApplicationError` subclasses with per-field messages.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_otp.models import Device
from knox.models import AuthToken
from knox.settings import knox_settings

from accounts.audit import audit_record
from accounts.authority import can_change_roles
from accounts.http import django_request
from accounts.models import AuditAction, OnboardingStage, User, UserSession
from accounts.questionnaire import InvalidAnswers, QuestionnaireResult, score_questionnaire
from accounts.roles import ROLE_ORDER, Role, role_of
from accounts.sessions import session_store, session_user_id, sessions_end
from accounts.signals import LOGIN_METHOD_ATTR
from accounts.staff import staff_refusal_record
from accounts.two_step import otp_required_error, two_step_enabled
from quantai.errors import ApplicationError, Conflict, RuleViolation, ValidationFailed

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
STARTING_CASH_MIN = Decimal("0.01")
STARTING_CASH_MAX = Decimal("100000000.00")


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"


def _advance(user: User, stage: OnboardingStage) -> bool:
    """Move the onboarding stage forward (never back); returns whether it moved."""
    if OnboardingStage.rank(stage) > OnboardingStage.rank(user.onboarding_stage):
        user.onboarding_stage = stage
        return True
    return False


def _normalize_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip()


# --- Registration and onboarding ------------------------------------------------------------


def user_register(*, username: str, email: str, password: str, request: Any = None) -> User:
    """Create an investor: unique username and e-mail (case-insensitive), a password that passes every validator."""
    username = _normalize_username(username)
    email = User.objects.normalize_email(email.strip()).lower()
    errors: dict[str, list[str]] = {}
    candidate = User(username=username, email=email)
    try:
        candidate.full_clean(exclude=["password"], validate_unique=False)
    except DjangoValidationError as exc:
        errors.update({k: list(v) for k, v in exc.message_dict.items() if k in {"username", "email"}})
    if "username" not in errors and User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That username is taken."]
    if "email" not in errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["An account with that e-mail address already exists."]
    try:
        validate_password(password, candidate)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed("Some fields are invalid.", fields=errors)

    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            investor, _ = Group.objects.get_or_create(name=Role.INVESTOR.value)
            user.groups.add(investor)
            audit_record(action=AuditAction.REGISTRATION, actor=user, request=request, target=user)
    except IntegrityError:
        # Two sign-ups racing for one name, or a database collation that equates names we did not.
        raise ValidationFailed("Some fields are invalid.", fields={"username": ["That username is taken."]}) from None
    return user


def questionnaire_submit(*, user: User, answers: dict[str, str], request: Any = None) -> QuestionnaireResult:
    """Score the risk questionnaire, store answers and result on the user, and move onboarding on."""
    try:
        result = score_questionnaire(answers)
    except InvalidAnswers as exc:
        raise ValidationFailed("Some answers are missing or invalid.", fields={k: [v] for k, v in exc.errors.items()}) from None
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        before = {"risk_tolerance": locked.risk_tolerance, "investment_experience": locked.investment_experience}
        locked.risk_tolerance = result.risk_tolerance
        locked.investment_experience = result.investment_experience
        locked.questionnaire = result.as_record(answers)
        locked.profiled_at = timezone.now()
        _advance(locked, OnboardingStage.PROFILED)
        locked.save(update_fields=["risk_tolerance", "investment_experience", "questionnaire", "profiled_at", "onboarding_stage"])
        audit_record(
            action=AuditAction.PROFILE_CHANGE,
            actor=locked,
            request=request,
            target=locked,
            details={
                "change": "questionnaire",
                "before": before,
                "after": {"risk_tolerance": result.risk_tolerance, "investment_experience": result.investment_experience},
                "score": result.score,
            },
        )
    _refresh(user, locked)
    return result


def _refresh(user: User, source: User) -> None:
    for field in ("risk_tolerance", "investment_experience", "questionnaire", "profiled_at", "onboarding_stage"):
        setattr(user, field, getattr(source, field))
    user.starting_cash = source.starting_cash
    user.portfolio_value = source.portfolio_value


def starting_cash_set(*, user: User, amount: Decimal | str, request: Any = None) -> User:
    """Record the cash the user starts with (0.01 to 100,000,000.00); allowed until onboarding is complete."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("Some fields are invalid.", fields={"starting_cash": ["Enter a number."]}) from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValidationFailed("Some fields are invalid.", fields={"starting_cash": ["Use at most two decimal places."]})
    if not STARTING_CASH_MIN <= value <= STARTING_CASH_MAX:
        raise ValidationFailed(
            "Some fields are invalid.",
            fields={"starting_cash": [f"Enter an amount from {STARTING_CASH_MIN} to {STARTING_CASH_MAX:,}."]},
        )
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.onboarding_stage == OnboardingStage.REGISTERED:
            raise Conflict("Answer the risk questionnaire first.", code="onboarding_order")
        if locked.onboarding_stage == OnboardingStage.ACTIVE:
            raise Conflict("Your portfolio is already active; starting cash can no longer change.", code="onboarding_complete")
        before = locked.starting_cash
        locked.starting_cash = value
        # Until the portfolios app values holdings, the whole portfolio is this cash.
        locked.portfolio_value = value
        _advance(locked, OnboardingStage.PORTFOLIO_SET_UP)
        locked.save(update_fields=["starting_cash", "portfolio_value", "onboarding_stage"])
        audit_record(
            action=AuditAction.PROFILE_CHANGE,
            actor=locked,
            request=request,
            target=locked,
            details={"change": "starting_cash", "before": before, "after": value},
        )
    _refresh(user, locked)
    return user


def portfolio_set_up_mark(*, user: User, request: Any = None) -> User:
    """Record that the portfolio-setup step is done without a starting cash amount (holdings only).

    The portfolios app records the holdings themselves; this only moves the journey on, forward only.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.onboarding_stage == OnboardingStage.REGISTERED:
            raise Conflict("Answer the risk questionnaire first.", code="onboarding_order")
        if _advance(locked, OnboardingStage.PORTFOLIO_SET_UP):
            locked.save(update_fields=["onboarding_stage"])
            audit_record(
                action=AuditAction.PROFILE_CHANGE,
                actor=locked,
                request=request,
                target=locked,
                details={"change": "portfolio_set_up"},
            )
    _refresh(user, locked)
    return user


def onboarding_complete(*, user: User, request: Any = None) -> User:
    """Finish onboarding (portfolio set up -> active). Completing twice changes nothing."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.onboarding_stage == OnboardingStage.ACTIVE:
            _refresh(user, locked)
            return user
        if locked.onboarding_stage != OnboardingStage.PORTFOLIO_SET_UP:
            raise Conflict("Finish the earlier onboarding steps first.", code="onboarding_order")
        _advance(locked, OnboardingStage.ACTIVE)
        locked.save(update_fields=["onboarding_stage"])
        audit_record(
            action=AuditAction.PROFILE_CHANGE,
            actor=locked,
            request=request,
            target=locked,
            details={"change": "onboarding_complete"},
        )
    _refresh(user, locked)
    return user


# --- Sign-in, sign-out, tokens -------------------------------------------------------------------


def credentials_authenticate(*, request: Any, username: str, password: str) -> User | None:
    """Check credentials through every backend, axes first (so lockouts are counted and enforced).

    Returns ``None`` for wrong credentials and for a locked-out client; :func:`is_locked_out` tells
    which. The Django request (not DRF's wrapper) is passed, so axes' flags land where its
    middleware looks.
    """
    req = django_request(request)
    user = authenticate(req, username=username, password=password)
    return user if isinstance(user, User) else None


def is_locked_out(request: Any) -> bool:
    return bool(getattr(django_request(request), "axes_locked_out", False))


def session_login(*, request: Any, user: User, device: Device | None = None) -> None:
    """Sign in with a session; Django rotates the session key and the CSRF token.

    ``device`` is the two-step device that accepted the user's code (``accounts.two_step``); a user
    with two-step sign-in on is never signed in without one, whichever view calls this.
    """
    if device is None and two_step_enabled(user):
        raise otp_required_error()
    req = django_request(request)
    setattr(req, LOGIN_METHOD_ATTR, "session")
    # After registration the user did not come through authenticate(): name the model backend.
    login(req, user, backend=getattr(user, "backend", None) or MODEL_BACKEND)
    if device is not None:
        django_otp.login(req, device)


def session_logout(*, request: Any) -> None:
    """Sign out: the server-side session is deleted, so a replayed cookie is anonymous."""
    logout(django_request(request))


def token_create(*, request: Any, user: User) -> tuple[AuthToken, str]:
    """Issue an expiring API token; only its SHA-512 digest is stored. Returns (row, token text)."""
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    now = timezone.now()
    live = AuthToken.objects.filter(user=user).filter(Q(expiry__gt=now) | Q(expiry__isnull=True))
    if limit is not None and live.count() >= limit:
        raise Conflict(f"You already have {limit} active API tokens; sign one out before creating another.", code="token_limit")
    instance, token = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
    req = django_request(request)
    setattr(req, LOGIN_METHOD_ATTR, "token")
    # Same signal as a session sign-in: last_login, the audit log and axes' reset-on-success.
    user_logged_in.send(sender=user.__class__, request=req, user=user)
    return instance, token


def token_logout(*, request: Any, token: AuthToken) -> None:
    user = token.user
    token.delete()
    req = django_request(request)
    setattr(req, LOGIN_METHOD_ATTR, "token")
    user_logged_out.send(sender=user.__class__, request=req, user=user)


# --- Passwords and sessions ---------------------------------------------------------------------


def _current_session_key(request: Any, user: User) -> str | None:
    req = django_request(request)
    session = getattr(req, "session", None)
    if session is None or session.session_key is None or session_user_id(session) != str(user.pk):
        return None
    return session.session_key  # type: ignore[no-any-return]


def password_change(*, user: User, old_password: str, new_password: str, request: Any = None) -> dict[str, int]:
    """Change the password, keep the current session, end every other session and every API token."""
    if not user.check_password(old_password):
        message = "Your current password is not correct."
        raise RuleViolation("Some fields are invalid.", fields={"old_password": [message]}, code="wrong_password")
    if new_password == old_password:
        message = "Choose a password you are not using now."
        raise RuleViolation("Some fields are invalid.", fields={"new_password": [message]}, code="password_policy")
    try:
        validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise RuleViolation(
            "Some fields are invalid.", fields={"new_password": list(exc.messages)}, code="password_policy"
        ) from None

    keep = _current_session_key(request, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens, _ = AuthToken.objects.filter(user=user).delete()
        ended = sessions_end(user=user, keep_session_key=keep)
        audit_record(
            action=AuditAction.PASSWORD_CHANGE,
            actor=user,
            request=request,
            target=user,
            details={"sessions_ended": ended, "tokens_revoked": tokens},
        )
    if keep is not None:
        update_session_auth_hash(django_request(request), user)
    return {"sessions_ended": ended, "tokens_revoked": tokens}


def sessions_revoke_others(*, user: User, request: Any) -> dict[str, int]:
    """Sign out everywhere else: other browser sessions and API tokens (the one in use is kept)."""
    keep_session = _current_session_key(request, user)
    current_token = getattr(request, "auth", None)
    with transaction.atomic():
        tokens = AuthToken.objects.filter(user=user)
        if isinstance(current_token, AuthToken):
            tokens = tokens.exclude(digest=current_token.digest)
        token_count, _ = tokens.delete()
        ended = sessions_end(user=user, keep_session_key=keep_session)
        audit_record(
            action=AuditAction.SESSION_REVOKED,
            actor=user,
            request=request,
            target=user,
            details={"sessions_ended": ended, "tokens_revoked": token_count},
        )
    return {"sessions_ended": ended, "tokens_revoked": token_count}


# --- Roles -------------------------------------------------------------------------------------


def user_role_set(*, user: User, role: Role, actor: User | None = None, request: Any = None) -> User:
    """Give ``user`` exactly ``role`` (investor group always kept; staff/superuser flags follow the role).

    With an ``actor`` (a person acting through the product) only an administrator may do it, and only
    to a user below them (:mod:`accounts.authority`); refusals raise ``PermissionDenied`` and are
    audited. Without one it is the installation itself (a management command run on the server).
    """
    role = Role(role)
    if actor is not None and not can_change_roles(actor, user):
        staff_refusal_record(request=request, actor=actor, target=user, attempted=f"role:{role.value}")
        raise PermissionDenied("Only an administrator changes roles, and only of users below them.")
    before = role_of(user)
    with transaction.atomic():
        groups = {r: Group.objects.get_or_create(name=r.value)[0] for r in ROLE_ORDER}
        user.groups.remove(*[g for r, g in groups.items() if r is not Role.INVESTOR])
        user.groups.add(groups[Role.INVESTOR])
        if role is not Role.INVESTOR:
            user.groups.add(groups[role])
        user.is_staff = role in (Role.OPERATOR, Role.ADMINISTRATOR)
        user.is_superuser = role is Role.ADMINISTRATOR
        user.save(update_fields=["is_staff", "is_superuser"])
        user._quantai_group_names = None  # type: ignore[attr-defined]
        audit_record(
            action=AuditAction.ROLE_CHANGE,
            actor=actor,
            request=request,
            target=user,
            details={"before": before.value if before else None, "after": role.value, "via": "service" if actor else "command"},
        )
    return user


# --- Cleanup -----------------------------------------------------------------------------------


def security_records_cleanup(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what can no longer matter: expired and timed-out sessions, their rows, stale lockout
    counters, old axes logs, expired API tokens and registrations never confirmed in time.
    Safe to run at any time, any number of times."""
    now = now or timezone.now()
    idle_cutoff = now - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    absolute_cutoff = now - timedelta(seconds=settings.SESSION_ABSOLUTE_TIMEOUT)

    dead_rows = UserSession.objects.filter(Q(last_seen__lt=idle_cutoff) | Q(created_at__lt=absolute_cutoff))
    dead_keys = list(dead_rows.values_list("session_key", flat=True))
    store = session_store()
    for key in dead_keys:
        store.delete(key)
    timed_out = UserSession.objects.filter(session_key__in=dead_keys).delete()[0]
    expired_sessions = Session.objects.filter(expire_date__lt=now).delete()[0]
    orphans = UserSession.objects.exclude(session_key__in=Session.objects.values("session_key")).delete()[0]

    cool_off = settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(attempt_time__lt=now - cool_off).delete()[0] if cool_off else 0
    axes_logs = AxesProxyHandler.reset_logs(age_days=settings.AXES_LOG_RETENTION_DAYS)
    axes_logs += AxesProxyHandler.reset_failure_logs(age_days=settings.AXES_LOG_RETENTION_DAYS)
    tokens = AuthToken.objects.filter(expiry__lt=now).delete()[0]
    # Registrations whose confirmation link has expired: nobody can activate them any more.
    stale = now - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    pending = (
        User.objects.filter(registration_pending=True, is_active=False, date_joined__lt=stale)
        .delete()[1]
        .get(User._meta.label, 0)
    )
    return {
        "timed_out_sessions": timed_out,
        "expired_sessions": expired_sessions,
        "orphan_session_rows": orphans,
        "lockout_attempts": attempts,
        "axes_logs": axes_logs,
        "expired_tokens": tokens,
        "pending_registrations": pending,
    }
