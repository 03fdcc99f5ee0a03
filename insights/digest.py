"""The daily e-mail digest (opt-in): after the evening recommendations run, one mail per opted-in investor with the
day's new recommendations and alerts, as plain text and HTML.

- **Opt-in**: ``preferences["email_digest"] is True`` on the user (set from Settings through
  :func:`digest_preference_set`); inactive users and users without an e-mail address get nothing.
- **What "the day" is**: a trading day. Its new recommendations are the user's rows with that ``trading_date``
  (made after its close); its new alerts are the stop-loss and take-profit alerts raised on its close
  (``price_date``, or the day they were raised when the close is unknown).
- **Idempotent per user and day**: a :class:`~insights.models.DigestDelivery` row is claimed under a unique
  constraint before the mail leaves, so running the task twice (two beats, a redelivered message, the command)
  mails nobody twice. A digest with nothing in it is not sent. A failed send can be retried by the next run.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from insights.models import DigestDelivery, DigestStatus
from portfolios.models import RiskAlert
from recommendations.models import Recommendation

logger = logging.getLogger("insights.digest")

#: The key in ``User.preferences`` that holds the opt-in.
PREFERENCE = "email_digest"
#: A claim still "sending" after this long belongs to a worker that died mid-send: another run may take it over.
STALE_CLAIM = timedelta(minutes=30)


class DigestOutcome:
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    NOTHING_NEW = "nothing_new"
    NOT_OPTED_IN = "not_opted_in"
    INACTIVE = "inactive"
    NO_EMAIL = "no_email"
    FAILED = "failed"


@dataclass
class DigestContent:
    user: User
    day: date
    recommendations: list[Recommendation]
    alerts: list[RiskAlert]

    @property
    def is_empty(self) -> bool:
        return not self.recommendations and not self.alerts


@dataclass
class DigestRunResult:
    day: date | None
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.outcomes.get(DigestOutcome.SENT, 0)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def wants_digest(user: User) -> bool:
    return (user.preferences or {}).get(PREFERENCE) is True


def digest_preference_set(*, user: User, enabled: bool) -> None:
    """Turn the user's daily digest on or off (only this key of ``preferences`` changes, under a row lock)."""
    with transaction.atomic():
        locked = User.objects.select_for_update().only("pk", "preferences").get(pk=user.pk)
        preferences = dict(locked.preferences or {})
        preferences[PREFERENCE] = bool(enabled)
        User.objects.filter(pk=user.pk).update(preferences=preferences)
    user.preferences = preferences


def digest_recipients() -> QuerySet[User]:
    """Active users who asked for the digest and have an address to send it to, in id order."""
    return User.objects.filter(is_active=True, **{f"preferences__{PREFERENCE}": True}).exclude(email="").order_by("pk")


def latest_digest_day() -> date | None:
    """The latest trading day recommendations were made for (the day the evening run just finished)."""
    day: date | None = Recommendation.objects.aggregate(d=Max("trading_date"))["d"]
    return day


def digest_content(*, user: User, day: date) -> DigestContent:
    """The user's recommendations made after ``day``'s close and the alerts raised on it (two queries)."""
    # The order of the Recommendations page: personalised priority first, then by symbol.
    recommendations = list(
        Recommendation.objects.filter(user=user, trading_date=day).order_by(F("priority").asc(nulls_last=True), "symbol", "id")
    )
    alerts = list(
        RiskAlert.objects.filter(user=user)
        .filter(Q(price_date=day) | Q(price_date__isnull=True, created_at__date=day))
        .order_by("created_at", "id")
    )
    return DigestContent(user=user, day=day, recommendations=recommendations, alerts=alerts)


def _link(path: str) -> str:
    return f"{str(getattr(settings, 'SITE_URL', '') or '').rstrip('/')}{path}"


def digest_message(content: DigestContent) -> EmailMultiAlternatives:
    """The mail: subject, plain-text body and the same content as HTML."""
    context: dict[str, Any] = {
        "user": content.user,
        "day": content.day,
        "recommendations": content.recommendations,
        "alerts": content.alerts,
        "decisions": [r for r in content.recommendations if r.recommendation_type != "HOLD"],
        "recommendations_url": _link(reverse("recommendations:today")),
        "portfolio_url": _link(reverse("portfolios:dashboard")),
        "settings_url": _link(reverse("account_settings")),
        "rows": [{"rec": r, "url": _link(reverse("recommendations:detail", args=[r.pk]))} for r in content.recommendations],
    }
    subject = " ".join(render_to_string("insights/email/digest_subject.txt", context).split())
    text = render_to_string("insights/email/digest.txt", context)
    html = render_to_string("insights/email/digest.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [content.user.email])
    message.attach_alternative(html, "text/html")
    return message


def _claim(*, user: User, day: date) -> DigestDelivery | None:
    """The delivery row for (user, day) if this run may send it, or ``None`` when another run has it or sent it."""
    try:
        with transaction.atomic():
            return DigestDelivery.objects.create(user=user, day=day, status=DigestStatus.SENDING)
    except IntegrityError:
        pass
    # Compare-and-set: only one run can turn a failed (or abandoned) claim back into its own.
    now = timezone.now()
    retry = Q(status=DigestStatus.FAILED) | Q(status=DigestStatus.SENDING, claimed_at__lt=now - STALE_CLAIM)
    taken = DigestDelivery.objects.filter(retry, user=user, day=day).update(status=DigestStatus.SENDING, claimed_at=now, error="")
    return DigestDelivery.objects.get(user=user, day=day) if taken else None


def digest_send(*, user: User, day: date) -> str:
    """Mail ``user`` their digest for ``day`` unless they may not have one or already had it; returns a
    :class:`DigestOutcome`. A mail server error marks the delivery failed (the next run retries) and is raised."""
    if not user.is_active:
        return DigestOutcome.INACTIVE
    if not wants_digest(user):
        return DigestOutcome.NOT_OPTED_IN
    if not user.email:
        return DigestOutcome.NO_EMAIL
    if DigestDelivery.objects.filter(user=user, day=day, status=DigestStatus.SENT).exists():
        return DigestOutcome.ALREADY_SENT
    content = digest_content(user=user, day=day)
    if content.is_empty:
        return DigestOutcome.NOTHING_NEW
    delivery = _claim(user=user, day=day)
    if delivery is None:
        return DigestOutcome.ALREADY_SENT
    try:
        digest_message(content).send()
    except (smtplib.SMTPException, OSError) as exc:
        DigestDelivery.objects.filter(pk=delivery.pk).update(status=DigestStatus.FAILED, error=str(exc)[:300])
        logger.warning("digest %s for user %s could not be sent: %s", day, user.pk, exc)
        raise
    DigestDelivery.objects.filter(pk=delivery.pk).update(
        status=DigestStatus.SENT,
        sent_at=timezone.now(),
        recommendations=len(content.recommendations),
        alerts=len(content.alerts),
    )
    return DigestOutcome.SENT


def digests_send(
    *,
    day: date | None = None,
    users: QuerySet[User] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DigestRunResult:
    """Send the digest for ``day`` (default: :func:`latest_digest_day`) to ``users`` (default: every opted-in,
    active user with an address), one after the other; ``progress(done, total)`` after each.

    The management command's path (the task fans out one task per user instead). A user whose mail fails is
    counted as failed and the others still get theirs.
    """
    target = day or latest_digest_day()
    result = DigestRunResult(day=target)
    if target is None:
        return result
    chosen = list(users if users is not None else digest_recipients())
    for done, user in enumerate(chosen, start=1):
        try:
            result.count(digest_send(user=user, day=target))
        except (smtplib.SMTPException, OSError):
            result.count(DigestOutcome.FAILED)
        if progress is not None:
            progress(done, len(chosen))
    return result
