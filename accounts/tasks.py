"""Thin Celery tasks of the accounts app; each calls one service."""

from __future__ import annotations

from celery import shared_task

from accounts.security import security_alerts_check as security_alerts_check_service
from accounts.services import security_records_cleanup


@shared_task(name="accounts.tasks.cleanup_security_records", ignore_result=True)
def cleanup_security_records() -> dict[str, int]:
    """Periodic: delete expired/timed-out sessions, stale lockout counters, old axes logs, expired tokens."""
    return security_records_cleanup()


@shared_task(name="accounts.tasks.security_alerts_check", ignore_result=True)
def security_alerts_check() -> dict[str, list[dict[str, object]]]:
    """Periodic (every few minutes): mail operators when failed sign-ins or lockouts cross their thresholds."""
    return {"alerts": [alert.as_dict() for alert in security_alerts_check_service()]}
