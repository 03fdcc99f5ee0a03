"""Thin Celery tasks of the accounts app; each calls one service."""

from __future__ import annotations

from celery import shared_task

from accounts.services import security_records_cleanup


@shared_task(name="accounts.tasks.cleanup_security_records", ignore_result=True)
def cleanup_security_records() -> dict[str, int]:
    """Periodic: delete expired/timed-out sessions, stale lockout counters, old axes logs, expired tokens."""
    return security_records_cleanup()
