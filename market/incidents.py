"""Operator alerts for failing price providers: durable :class:`~market.models.ProviderIncident` rows and one mail.

A failure opens an incident (or bumps the open one of the same provider, symbol and kind); a later
successful load of that symbol resolves it. Operators are mailed once per incident, never again
for its repeats: permanent failures (bad data, rejected requests, a spent call budget) at the run
that saw them, transient ones (timeouts, HTTP 5xx, error pages) only when the refresh has used up
its retries, so a blip that the first retry fixes does not page anyone. The System page lists the
open incidents (``market.selectors.provider_health``).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from market.models import IncidentKind, ProviderIncident

logger = logging.getLogger(__name__)

#: ``transient`` of each kind: retried with backoff, mailed only when the retries are spent.
TRANSIENT_KINDS: frozenset[str] = frozenset(
    {IncidentKind.TIMEOUT, IncidentKind.CONNECTION, IncidentKind.HTTP_ERROR, IncidentKind.ERROR_PAGE, IncidentKind.RATE_LIMITED}
)


def _open_key(provider: str, symbol: str, kind: str) -> str:
    return f"{provider}:{symbol}:{kind}"


def incident_record(*, provider: str, symbol: str, kind: str, message: str, now: datetime | None = None) -> ProviderIncident:
    """Open an incident of ``kind`` for ``provider``/``symbol`` (``""`` = the whole provider), or count a repeat.

    Safe under concurrency: the open incident is unique by ``open_key``; a lost creation race
    turns into a repeat of the winner's row.
    """
    now = now or timezone.now()
    key = _open_key(provider, symbol, kind)
    message = message[:2000]
    try:
        with transaction.atomic():
            return ProviderIncident.objects.create(
                provider=provider,
                symbol=symbol,
                kind=kind,
                transient=kind in TRANSIENT_KINDS,
                message=message,
                first_seen_at=now,
                last_seen_at=now,
                open_key=key,
            )
    except IntegrityError:
        pass
    ProviderIncident.objects.filter(open_key=key).update(occurrences=F("occurrences") + 1, last_seen_at=now, message=message)
    return ProviderIncident.objects.get(open_key=key)


def incidents_resolve(*, provider: str, symbol: str, kinds: Sequence[str] | None = None, now: datetime | None = None) -> int:
    """Close the open incidents of ``provider``/``symbol`` (only ``kinds`` if given); how many were closed."""
    open_incidents = ProviderIncident.objects.filter(open_key__isnull=False, provider=provider, symbol=symbol)
    if kinds is not None:
        open_incidents = open_incidents.filter(kind__in=list(kinds))
    closed = open_incidents.update(resolved_at=now or timezone.now(), open_key=None)
    if closed:
        logger.info("price provider %s %s: %s incident(s) resolved", provider, symbol or "(all symbols)", closed)
    return closed


def _claim(incident_ids: Sequence[int], now: datetime) -> list[ProviderIncident]:
    """Mark each not-yet-mailed incident as mailed; only this caller's claims come back (one mail per incident)."""
    unmailed = ProviderIncident.objects.filter(alerted_at__isnull=True)
    claimed = [pk for pk in incident_ids if unmailed.filter(pk=pk).update(alerted_at=now)]
    return list(ProviderIncident.objects.filter(pk__in=claimed).order_by("symbol", "kind"))


def _mail(incidents: Sequence[ProviderIncident]) -> tuple[str, str]:
    providers = sorted({i.provider for i in incidents})
    subject = f"[QuantAI] Price provider {', '.join(providers)}: {len(incidents)} new problem{'s' if len(incidents) != 1 else ''}"
    lines = ["The price refresh could not store fresh bars; the last good prices are kept.", ""]
    for incident in incidents:
        lines.append(
            f"- {incident.provider} {incident.symbol or '(all symbols)'}: {incident.get_kind_display()}"
            f" (seen {incident.occurrences}x since {timezone.localtime(incident.first_seen_at):%Y-%m-%d %H:%M %Z})"
        )
        lines.append(f"  {incident.message}")
    page = f"{getattr(settings, 'SITE_URL', '').rstrip('/')}{reverse('system')}"
    lines += ["", f"System page: {page}", "Each problem is mailed once."]
    return subject, "\n".join(lines)


def incidents_alert(*, provider: str, include_transient: bool, now: datetime | None = None) -> list[ProviderIncident]:
    """Log and mail operators about ``provider``'s open incidents not mailed yet; the incidents mailed.

    Transient incidents are included only when ``include_transient`` (the refresh's last attempt).
    Recipients are the operators and ``ADMINS`` (``accounts.security.security_alert_recipients``).
    If the mail server refuses, the claims are given back and the next refresh tries again.
    """
    from accounts.security import security_alert_recipients

    now = now or timezone.now()
    pending = ProviderIncident.objects.filter(provider=provider, open_key__isnull=False, alerted_at__isnull=True)
    if not include_transient:
        pending = pending.filter(transient=False)
    incidents = _claim(list(pending.values_list("pk", flat=True)), now)
    if not incidents:
        return []
    for incident in incidents:
        logger.error(
            "price provider alert: %s %s %s: %s", incident.provider, incident.symbol or "*", incident.kind, incident.message
        )
    recipients = security_alert_recipients()
    if not recipients:
        logger.warning("price provider alert: no operator has an e-mail address and ADMINS is empty")
        return incidents
    subject, body = _mail(incidents)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except (smtplib.SMTPException, OSError):
        ProviderIncident.objects.filter(pk__in=[i.pk for i in incidents]).update(alerted_at=None)
        logger.exception("price provider alert could not be mailed")
        return []
    return incidents
