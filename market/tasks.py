"""Celery tasks of the market app: thin wrappers over :mod:`market.refresh`, imported when a task runs (the
providers bring pandas, which a worker that only starts, or runs other tasks, should not load)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import shared_task
from celery.signals import worker_init

from market.refresh_types import REFRESH_SESSIONS, ProviderTemporarilyFailing

logger = logging.getLogger(__name__)

__all__ = ["REFRESH_SESSIONS", "refresh_prices"]


@shared_task(
    bind=True,
    name="market.tasks.refresh_prices",
    autoretry_for=(ProviderTemporarilyFailing,),
    # 60 s, 120 s, 240 s (each a random share of that: full jitter): three retries fit in the 15-minute period.
    retry_backoff=60,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=3,
)
def refresh_prices(self: Any, sessions: int = REFRESH_SESSIONS, as_of: str | None = None) -> dict[str, Any]:
    """Reload the last ``sessions`` completed sessions of every symbol from ``MARKET_DATA_PROVIDER``.

    Idempotent: unchanged bars are left alone, so running it twice changes nothing. Only
    completed sessions are loaded, so a stored bar is always a final one. ``as_of`` (an ISO
    datetime, UTC when naive) pins "now", for backfills and tests. A symbol the provider fails
    for keeps its last good bars and opens an operator incident (see :mod:`market.refresh`);
    if any failure was transient (timeout, HTTP 5xx, error page) the task is retried with
    backoff, and operators are mailed about transient failures only on the last attempt.
    """
    from market.refresh import prices_refresh_run

    now = datetime.fromisoformat(as_of) if as_of else None
    last_attempt = self.request.retries >= self.max_retries
    report = prices_refresh_run(sessions=sessions, now=now, alert_transient=last_attempt)
    transient = report.transient_failures
    if transient:
        raise ProviderTemporarilyFailing.for_failures(report.source, transient)
    return report.as_dict()


@worker_init.connect
def calendar_file_on_worker_start(**kwargs: Any) -> None:
    """Write the trading calendar's file as a worker starts, when it is missing or stale, so web processes read it
    instead of importing pandas and exchange_calendars to build it. The build runs in a child process: the worker's
    main process, whose pool forks from it, stays without pandas (:func:`market.calendar.ensure_file`)."""
    from market import calendar

    calendar.ensure_file()
