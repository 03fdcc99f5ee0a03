"""Security monitoring: what the operators' dashboard shows, and the alert mailed when an attack starts.

Everything is read from the audit log (``AuditEvent``, written by ``accounts.audit.audit_record``),
the tracked browser sessions (``UserSession``) and axes' attempt counters. Aggregation happens in
SQL (``TruncHour``/``TruncDate`` + ``Count``), so the number of queries and the rows sent back do not
grow with the number of events: a busy attack makes bigger counts, not more work.

Alert settings (read at each check, so a test or an operator can change them without a restart):

- ``SECURITY_ALERT_FAILED_LOGINS`` (50): failed sign-ins within the window that raise an alert;
- ``SECURITY_ALERT_LOCKOUTS`` (5): lockouts within the window that raise an alert;
- ``SECURITY_ALERT_WINDOW_MINUTES`` (15): the sliding window, ending at the check;
- ``SECURITY_ALERT_COOLDOWN_MINUTES`` (60): after a mail about one kind, no other mail about that
  kind for this long, however often the check runs and however long the attack lasts.

A threshold of 0 turns that kind of alert off.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate, TruncHour
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditEvent, User, UserSession

logger = logging.getLogger("accounts.security")

HOURS = 24
DAYS = 30
RATE_LIMIT_ROWS = 20
SESSION_ROWS = 50
EVENTS_PER_PAGE = 50
TOP_SOURCES = 5

AlertKind = Literal["failed_logins", "lockouts"]
AlertStatus = Literal["sent", "suppressed", "failed"]

#: Alert kind -> (audited action it counts, setting with its threshold, default threshold, words for the mail).
ALERT_KINDS: dict[AlertKind, tuple[AuditAction, str, int, str]] = {
    "failed_logins": (AuditAction.LOGIN_FAILED, "SECURITY_ALERT_FAILED_LOGINS", 50, "failed sign-ins"),
    "lockouts": (AuditAction.LOCKOUT, "SECURITY_ALERT_LOCKOUTS", 5, "lockouts"),
}
#: When the last mail about a kind went out (ISO time), and the claim checks race for before sending.
LAST_SENT_KEY = "security-alert:{kind}:last-sent"
_CLAIM_KEY = "security-alert:{kind}:claim-after:{last}"


def _setting_int(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# --- Dashboard selectors ------------------------------------------------------------------------


def _hour_start(moment: datetime) -> datetime:
    return timezone.localtime(moment).replace(minute=0, second=0, microsecond=0)


def _last_24h_start(now: datetime) -> datetime:
    # "Last 24 hours" everywhere on the dashboard means the 24 clock hours the hourly chart shows,
    # so a headline number always equals the sum of its chart.
    return _hour_start(now) - timedelta(hours=HOURS - 1)


def _series(*, now: datetime, start: datetime, trunc: Any, buckets: list[Any]) -> dict[str, list[int]]:
    """Failed sign-ins and lockouts per bucket: one GROUP BY query, zero-filled for empty buckets."""
    rows = (
        AuditEvent.objects.filter(
            action__in=[AuditAction.LOGIN_FAILED, AuditAction.LOCKOUT], created_at__gte=start, created_at__lte=now
        )
        .annotate(bucket=trunc("created_at"))
        .values("bucket", "action")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[tuple[Any, str], int] = {(row["bucket"], row["action"]): row["n"] for row in rows}
    return {
        "failed_logins": [counts.get((b, AuditAction.LOGIN_FAILED.value), 0) for b in buckets],
        "lockouts": [counts.get((b, AuditAction.LOCKOUT.value), 0) for b in buckets],
    }


def security_hourly_series(*, now: datetime) -> dict[str, Any]:
    """The last 24 hours, one bucket per clock hour (the current, unfinished hour last); labels are ISO UTC."""
    first = _last_24h_start(now)
    buckets = [first + timedelta(hours=i) for i in range(HOURS)]
    series = _series(now=now, start=first, trunc=TruncHour, buckets=buckets)
    return {"labels": [b.isoformat() for b in buckets], **series}


def security_daily_series(*, now: datetime) -> dict[str, Any]:
    """The last 30 days, one bucket per calendar day in ``TIME_ZONE`` (UTC), today last."""
    today = timezone.localdate(now)
    days: list[date] = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    start = timezone.make_aware(datetime.combine(days[0], time.min))
    series = _series(now=now, start=start, trunc=TruncDate, buckets=days)
    return {"labels": [d.isoformat() for d in days], **series}


def security_rate_limit_hits(*, now: datetime, limit: int = RATE_LIMIT_ROWS) -> list[dict[str, Any]]:
    """Rate-limit refusals grouped by endpoint (path) and named limit, busiest over 30 days first."""
    day_ago = _last_24h_start(now)
    rows = (
        AuditEvent.objects.filter(
            action=AuditAction.RATE_LIMITED, created_at__gte=now - timedelta(days=DAYS), created_at__lte=now
        )
        .values(path=KT("details__path"), limit_name=KT("details__limit"))
        .annotate(last_24h=Count("id", filter=Q(created_at__gte=day_ago)), last_30d=Count("id"))
        .order_by("-last_30d", "path")[:limit]
    )
    return [
        {"path": row["path"] or "", "limit": row["limit_name"] or "", "last_24h": row["last_24h"], "last_30d": row["last_30d"]}
        for row in rows
    ]


def security_active_sessions(*, now: datetime) -> QuerySet[UserSession]:
    """Tracked browser sessions still inside both timeouts, most recently active first.

    ``last_seen`` is written at most once per ``SESSION_ACTIVITY_WRITE_INTERVAL``, so a session can
    look up to that much older than it is.
    """
    return (
        UserSession.objects.filter(
            last_seen__gte=now - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT),
            created_at__gte=now - timedelta(seconds=settings.SESSION_ABSOLUTE_TIMEOUT),
        )
        .select_related("user")
        .order_by("-last_seen", "-id")
    )


def security_recent_events(*, action: str | None = None) -> QuerySet[AuditEvent]:
    """The audit log, newest first, optionally one action only (unknown actions mean all)."""
    events = AuditEvent.objects.order_by("-created_at", "-id")
    if action in AuditAction.values:
        events = events.filter(action=action)
    return events


def _locked_out_now(now: datetime) -> int | None:
    """Username+IP pairs axes refuses right now; ``None`` when the failure limit is a callable."""
    limit = settings.AXES_FAILURE_LIMIT
    if not isinstance(limit, int):
        return None
    attempts = AccessAttempt.objects.filter(failures_since_start__gte=limit)
    cool_off = get_cool_off()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=now - cool_off)
    return attempts.count()


def security_totals(*, now: datetime) -> dict[str, int | None]:
    """The headline numbers: last-24-hour counts by kind, lockouts in force, active sessions."""
    counts = AuditEvent.objects.filter(created_at__gte=_last_24h_start(now), created_at__lte=now).aggregate(
        failed_logins_24h=Count("id", filter=Q(action=AuditAction.LOGIN_FAILED)),
        lockouts_24h=Count("id", filter=Q(action=AuditAction.LOCKOUT)),
        rate_limited_24h=Count("id", filter=Q(action=AuditAction.RATE_LIMITED)),
        permission_denied_24h=Count("id", filter=Q(action=AuditAction.PERMISSION_DENIED)),
    )
    return {
        **counts,
        "locked_out_now": _locked_out_now(now),
        "active_sessions": security_active_sessions(now=now).count(),
    }


def security_dashboard_data(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard's charts and headline numbers need, as JSON-ready data.

    The same dictionary is embedded in the page (``json_script``) and served by
    ``GET /api/auth/security/summary`` for the page's periodic refresh. Six queries, whatever
    the number of events.
    """
    now = now or timezone.now()
    return {
        "generated_at": now.isoformat(),
        "totals": security_totals(now=now),
        "hourly": security_hourly_series(now=now),
        "daily": security_daily_series(now=now),
        "rate_limits": security_rate_limit_hits(now=now),
    }


# --- Alerts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecurityAlert:
    """One alert kind whose count reached its threshold at a check, and what the check did about it.

    ``status`` is ``"sent"`` (logged and mailed), ``"suppressed"`` (an alert of this kind went out
    less than the cooldown ago) or ``"failed"`` (the mail server refused; the next check retries).
    """

    kind: AlertKind
    count: int
    threshold: int
    window_minutes: int
    status: AlertStatus
    recipients: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def security_alert_recipients() -> list[str]:
    """Operators and administrators with an e-mail address, plus ``settings.ADMINS``; case-insensitively unique."""
    operators = (
        User.objects.filter(is_active=True)
        .filter(Q(is_staff=True) | Q(is_superuser=True))
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
    )
    admins = [entry[1] if isinstance(entry, list | tuple) else entry for entry in getattr(settings, "ADMINS", [])]
    seen: dict[str, str] = {}
    for address in [*operators, *admins]:
        if address and address.strip().lower() not in seen:
            seen[address.strip().lower()] = address.strip()
    return list(seen.values())


def _window_sources(*, action: AuditAction, start: datetime, now: datetime) -> tuple[list[dict[str, Any]], int]:
    """The busiest client addresses and how many distinct usernames were involved, within the window."""
    events = AuditEvent.objects.filter(action=action, created_at__gt=start, created_at__lte=now)
    top = [dict(row) for row in events.values("ip").annotate(n=Count("id")).order_by("-n", "ip")[:TOP_SOURCES]]
    usernames = int(events.aggregate(n=Count(KT("details__username"), distinct=True))["n"])
    return top, usernames


def _alert_mail(
    *, kind: AlertKind, count: int, threshold: int, window: int, cooldown: int, start: datetime, now: datetime
) -> tuple[str, str]:
    action, _, _, words = ALERT_KINDS[kind]
    sources, usernames = _window_sources(action=action, start=start, now=now)
    subject = f"[QuantAI] Security alert: {count} {words} in {window} minutes"
    lines = [
        f"{count} {words} were recorded in the {window} minutes up to {timezone.localtime(now):%Y-%m-%d %H:%M %Z}"
        f" (alert threshold: {threshold}).",
        "",
        "Busiest client addresses:",
        *[f"  {row['ip'] or 'unknown'}: {row['n']}" for row in sources],
        "",
        # Attempted usernames are not listed: people type passwords into the username field, and
        # this mail leaves the system. The dashboard shows them to signed-in operators.
        f"Distinct usernames involved: {usernames}",
        "",
        f"Security dashboard: {getattr(settings, 'SITE_URL', '').rstrip('/')}{reverse('security_dashboard')}",
        f"No further mail about {words} is sent for {cooldown} minutes, however long this goes on.",
    ]
    return subject, "\n".join(lines)


def _cooldown_claim(*, kind: AlertKind, now: datetime, cooldown: int) -> str | None:
    """The claim key if this check may send an alert of ``kind`` now, else ``None``.

    A compare-and-swap on the last-sent time built from ``cache.add`` (SET NX on Redis): every check
    that read the same last-sent time races for the same claim key and exactly one wins, so checks
    running at once in several workers send one mail. The cooldown is measured on the check's own
    clock (``now``), not on cache expiry, so it holds on any cache backend; the timeouts only
    clear out old keys.
    """
    last = cache.get(LAST_SENT_KEY.format(kind=kind))
    if last is not None and now - datetime.fromisoformat(last) < timedelta(minutes=cooldown):
        return None
    claim = _CLAIM_KEY.format(kind=kind, last=last or "never")
    return claim if cache.add(claim, now.isoformat(), timeout=cooldown * 60) else None


def _alert_send(*, kind: AlertKind, count: int, threshold: int, window: int, cooldown: int, now: datetime) -> SecurityAlert:
    """Claim the cooldown for ``kind`` and, if this check got it, log, mail and audit the alert."""
    claim = _cooldown_claim(kind=kind, now=now, cooldown=cooldown)
    if claim is None:
        logger.info("security alert %s still active (%s in %s min); mail suppressed by cooldown", kind, count, window)
        return SecurityAlert(kind, count, threshold, window, "suppressed")

    logger.warning("security alert %s: %s in the last %s minutes (threshold %s)", kind, count, window, threshold)
    recipients = security_alert_recipients()
    if recipients:
        subject, body = _alert_mail(
            kind=kind,
            count=count,
            threshold=threshold,
            window=window,
            cooldown=cooldown,
            start=now - timedelta(minutes=window),
            now=now,
        )
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except (smtplib.SMTPException, OSError):
            # Give the claim back so the next check tries again instead of staying silent for an hour.
            cache.delete(claim)
            logger.exception("security alert %s could not be mailed", kind)
            return SecurityAlert(kind, count, threshold, window, "failed", len(recipients))
    else:
        logger.warning("security alert %s: no operator has an e-mail address and ADMINS is empty", kind)
    # Kept a minute longer than the claim, so it is never gone while the claim still blocks.
    cache.set(LAST_SENT_KEY.format(kind=kind), now.isoformat(), timeout=cooldown * 60 + 60)

    # The audit log has no action for alerts yet; once AuditAction.SECURITY_ALERT exists, alerts are recorded.
    alert_action = getattr(AuditAction, "SECURITY_ALERT", None)
    if alert_action is not None:
        audit_record(
            action=alert_action,
            details={
                "kind": kind,
                "count": count,
                "threshold": threshold,
                "window_minutes": window,
                "recipients": len(recipients),
            },
        )
    return SecurityAlert(kind, count, threshold, window, "sent", len(recipients))


def security_alerts_check(*, now: datetime | None = None) -> list[SecurityAlert]:
    """Count failed sign-ins and lockouts in the window ending ``now``; alert on each kind at or over its threshold.

    Each kind is mailed (to :func:`security_alert_recipients`) and logged at WARNING at most once per
    ``SECURITY_ALERT_COOLDOWN_MINUTES``; further checks during the cooldown return it as
    ``"suppressed"``. Returns the kinds over threshold (an empty list when all is quiet). Safe to run
    as often as wanted, from any number of workers at once.
    """
    now = now or timezone.now()
    window = _setting_int("SECURITY_ALERT_WINDOW_MINUTES", 15)
    cooldown = _setting_int("SECURITY_ALERT_COOLDOWN_MINUTES", 60)
    start = now - timedelta(minutes=window)
    counts = AuditEvent.objects.filter(created_at__gt=start, created_at__lte=now).aggregate(
        **{kind: Count("id", filter=Q(action=action)) for kind, (action, *_) in ALERT_KINDS.items()}
    )
    alerts: list[SecurityAlert] = []
    for kind, (_, setting, default, _) in ALERT_KINDS.items():
        threshold = _setting_int(setting, default)
        if 0 < threshold <= counts[kind]:
            alerts.append(
                _alert_send(kind=kind, count=counts[kind], threshold=threshold, window=window, cooldown=cooldown, now=now)
            )
    return alerts
