"""Reads of the accounts app: the next onboarding step, a user's sessions and tokens, audit events."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import AuditEvent, OnboardingStage, User, UserSession
from accounts.profiles import RiskProfile, profile_for


@dataclass(frozen=True)
class NextStep:
    stage: str
    url_name: str
    label: str
    description: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


_NEXT_STEPS: dict[str, NextStep] = {
    OnboardingStage.REGISTERED: NextStep(
        OnboardingStage.REGISTERED,
        "onboarding_questionnaire",
        "Answer the risk questionnaire",
        "Seven questions set how large your positions may be and how much daily risk you take.",
    ),
    OnboardingStage.PROFILED: NextStep(
        OnboardingStage.PROFILED,
        "onboarding_portfolio",
        "Set up your portfolio",
        "Tell us how much cash you start with.",
    ),
    OnboardingStage.PORTFOLIO_SET_UP: NextStep(
        OnboardingStage.PORTFOLIO_SET_UP,
        "onboarding_finish",
        "Finish and see your first recommendations",
        "Review your profile and start.",
    ),
}


def onboarding_next_step(user: User | None) -> NextStep | None:
    """The step a signed-in user should take next, or ``None`` when onboarding is complete."""
    if user is None or not user.is_authenticated:
        return None
    if user.is_staff or user.is_superuser:
        # Operators and administrators run the site; the investor wizard is theirs to open, never a push.
        return None
    return _NEXT_STEPS.get(user.onboarding_stage)


def onboarding_steps(user: User) -> list[dict[str, object]]:
    """The wizard's steps with done/current flags, for a progress indicator."""
    rank = OnboardingStage.rank(user.onboarding_stage)
    steps = []
    for index, step in enumerate(_NEXT_STEPS.values()):
        steps.append({"label": step.label, "url": step.url, "done": index < rank, "current": index == rank})
    return steps


def user_risk_profile(user: User) -> RiskProfile:
    return profile_for(user.risk_tolerance)


def user_sessions_list(*, user: User) -> QuerySet[UserSession]:
    return UserSession.objects.filter(user=user).order_by("-last_seen")


def user_tokens_active(*, user: User) -> QuerySet[AuthToken]:
    now = timezone.now()
    return AuthToken.objects.filter(user=user).filter(Q(expiry__gt=now) | Q(expiry__isnull=True)).order_by("-created")


def audit_events_for(*, user: User, limit: int = 50) -> QuerySet[AuditEvent]:
    """The most recent events where the user is the actor (their own security history)."""
    return AuditEvent.objects.filter(actor=user).order_by("-created_at", "-id")[:limit]


def user_in_scope(*, caller: User, user_id: str, write: bool = False) -> User | None:
    """The user a ``{user_id}`` URL segment names, if ``caller`` may act on their data; else ``None``.

    ``me`` and the caller's own id name the caller. Staff may read (never write) another user's
    data. Anything else is ``None`` whether that user exists or not, so ids are no oracle: views
    answer 404.
    """
    if user_id == "me":
        return caller
    if not user_id.isdigit():
        return None
    if int(user_id) == caller.pk:
        return caller
    if caller.is_staff and not write:
        return User.objects.filter(pk=int(user_id)).first()
    return None
