"""Celery tasks of the composition app: the daily e-mail digest (thin wrappers over :mod:`insights.digest`) and
the investors' recommendation statistics stored after the close and after each answer
(:mod:`insights.recommendation_stats`).

The scheduled run (after the evening recommendations) fans out one task per opted-in user, so one user's mail
server error is retried on its own. Both are safe to run twice: a digest already sent is never sent again.
"""

from __future__ import annotations

import smtplib
from datetime import date
from typing import Any

from celery import shared_task

from accounts.models import User
from insights.digest import digest_recipients, digest_send, latest_digest_day
from insights.recommendation_stats import recommendation_statistics_refresh, recommendation_statistics_store
from quantai.tasks_lock import once_per_period

#: The daily claim lasts just over half a day (see quantai.tasks_lock).
DAILY = 12 * 3600


@shared_task(name="insights.tasks.send_daily_digests")
@once_per_period(DAILY)
def send_daily_digests(day: str | None = None) -> dict[str, Any]:
    """Queue the digest of every opted-in, active user for ``day`` (default: the latest day with recommendations)."""
    target = date.fromisoformat(day) if day else latest_digest_day()
    if target is None:
        return {"date": None, "queued": 0, "reason": "no recommendations yet"}
    user_ids = list(digest_recipients().values_list("pk", flat=True))
    for user_id in user_ids:
        send_user_digest.delay(user_id, target.isoformat())
    return {"date": target.isoformat(), "queued": len(user_ids)}


@shared_task(
    name="insights.tasks.send_user_digest",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=5,
)
def send_user_digest(user_id: int, day: str) -> dict[str, Any]:
    """Mail one user's digest for ``day`` unless they had it already, opted out or were deactivated meanwhile."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return {"user": user_id, "date": day, "outcome": "gone"}
    return {"user": user_id, "date": day, "outcome": digest_send(user=user, day=date.fromisoformat(day))}


@shared_task(name="insights.tasks.refresh_recommendation_statistics")
def refresh_recommendation_statistics() -> dict[str, Any]:
    """Store every investor's recommendation statistics whose figures are missing (run after the close's scoring and
    new cards), so the analytics API reads them instead of aggregating on the investor's first request."""
    return {"computed": recommendation_statistics_refresh()}


@shared_task(name="insights.tasks.refresh_user_recommendation_statistics")
def refresh_user_recommendation_statistics(user_id: int) -> dict[str, Any]:
    """Store one investor's recommendation statistics after an answer (queued by :mod:`insights.receivers`). Safe to
    run twice: figures already stored are left alone."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return {"user": user_id, "computed": False}
    return {"user": user_id, "computed": recommendation_statistics_store(user=user)}
