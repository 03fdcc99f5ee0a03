"""The QuantAI user (Django's auth user plus the investor profile), browser sessions and the audit log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class RiskTolerance(models.TextChoices):
    CONSERVATIVE = "Conservative", "Conservative"
    MODERATE = "Moderate", "Moderate"
    AGGRESSIVE = "Aggressive", "Aggressive"


class InvestmentExperience(models.TextChoices):
    BEGINNER = "Beginner", "Beginner"
    INTERMEDIATE = "Intermediate", "Intermediate"
    ADVANCED = "Advanced", "Advanced"


class OnboardingStage(models.TextChoices):
    """Where a user is in register -> questionnaire -> portfolio setup -> active. Only ever moves forward."""

    REGISTERED = "registered", "Registered"
    PROFILED = "profiled", "Risk profile answered"
    PORTFOLIO_SET_UP = "portfolio_set_up", "Portfolio set up"
    ACTIVE = "active", "Active"

    @classmethod
    def rank(cls, stage: str) -> int:
        return list(cls.values).index(stage)


class User(AbstractUser):
    """An investor (or an operator: roles come from groups and the staff/superuser flags).

    ``portfolio_value`` and ``total_pnl`` are caches written by the portfolio valuation
    service; the trade ledger is the source of truth. ``starting_cash`` is the cash the user
    said they start with; it lives here until the portfolios app records it in its ledger.
    ``questionnaire`` holds the last risk questionnaire: answers, points per question and score
    (see ``accounts.questionnaire``), so the profile can always be explained.
    """

    email = models.EmailField("email address", blank=True)
    risk_tolerance = models.CharField(max_length=12, choices=RiskTolerance.choices, default=RiskTolerance.MODERATE)
    investment_experience = models.CharField(
        max_length=12, choices=InvestmentExperience.choices, default=InvestmentExperience.BEGINNER
    )
    portfolio_value = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    total_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=Decimal("0.00"))
    preferences = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    onboarding_stage = models.CharField(max_length=20, choices=OnboardingStage.choices, default=OnboardingStage.REGISTERED)
    questionnaire = models.JSONField(default=dict, blank=True)
    profiled_at = models.DateTimeField(null=True, blank=True)
    starting_cash = models.DecimalField(max_digits=15, decimal_places=2, null=True, blank=True)
    #: Registered but the e-mail link not yet followed: inactive until then (``accounts.registration``).
    registration_pending = models.BooleanField(default=False)

    class Meta:
        db_table = "users"
        indexes = [
            models.Index(fields=["username"], name="users_username_idx"),
            models.Index(fields=["risk_tolerance"], name="users_risk_tolerance_idx"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_onboarded(self) -> bool:
        return self.onboarding_stage == OnboardingStage.ACTIVE


class UserSession(models.Model):
    """One signed-in browser session, kept beside Django's session row so a user can see and end it.

    ``last_seen`` is refreshed at most once a minute (``SESSION_ACTIVITY_WRITE_INTERVAL``), so it is
    accurate to that interval, not to the request.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="browser_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-last_seen"], name="usersession_user_seen_idx"),
            models.Index(fields=["last_seen"], name="usersession_last_seen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"


class AuditAction(models.TextChoices):
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOCKOUT = "lockout", "Locked out"
    LOGOUT = "logout", "Signed out"
    PASSWORD_CHANGE = "password_change", "Password changed"
    SESSION_REVOKED = "session_revoked", "Session ended by the user"
    SESSION_EXPIRED = "session_expired", "Session expired"
    TOKEN_CREATED = "token_created", "API token created"
    ROLE_CHANGE = "role_change", "Role changed"
    RATE_LIMITED = "rate_limited", "Rate limited"
    PERMISSION_DENIED = "permission_denied", "Permission denied"
    REGISTRATION = "registration", "Registered"
    PROFILE_CHANGE = "profile_change", "Profile changed"
    SECURITY_ALERT = "security_alert", "Security alert sent"
    ACCOUNT_CHANGE = "account_change", "Account changed by staff"
    ACCOUNT_DELETE = "account_delete", "Account deleted by staff"
    PASSWORD_RESET_REQUEST = "password_reset_request", "Password reset requested"
    PASSWORD_RESET = "password_reset", "Password reset"
    REGISTRATION_CONFIRMED = "registration_confirmed", "Registration confirmed"
    TWO_STEP_ENABLED = "two_step_enabled", "Two-step sign-in turned on"
    TWO_STEP_DISABLED = "two_step_disabled", "Two-step sign-in turned off"
    TWO_STEP_FAILED = "two_step_failed", "Two-step code refused"
    TWO_STEP_RECOVERY_USED = "two_step_recovery_used", "Recovery code used"
    TWO_STEP_CODES_RENEWED = "two_step_codes_renewed", "Recovery codes replaced"


class AuditEventImmutable(Exception):
    """Raised when code tries to change or delete a written audit event."""


class AuditEvent(models.Model):
    """A security-relevant event. Append-only: written once by ``accounts.audit.audit_record``.

    ``actor_username`` keeps who it was when the actor is later deleted (the FK is then nulled).
    ``details`` never holds passwords or tokens: ``audit_record`` scrubs secret-looking keys.
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["action", "-created_at"], name="audit_action_created_idx"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_created_idx"),
        ]
        permissions = [("view_security_dashboard", "Can view security dashboards")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.actor_username or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The log is evidence: an existing row is never rewritten.
        if not self._state.adding:
            raise AuditEventImmutable("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditEventImmutable("audit events are append-only")
