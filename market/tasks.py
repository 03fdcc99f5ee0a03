"""Celery tasks of the market app: thin wrappers over :mod:`market.services`."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import requests
from celery import shared_task

from market import calendar
from market.services import prices_load, provider_build
from market.symbols import ALL_SYMBOLS

logger = logging.getLogger(__name__)

#: How many recent sessions each refresh re-reads: covers a few missed runs and late corrections.
REFRESH_SESSIONS = 10


@shared_task(
    name="market.tasks.refresh_prices",
    autoretry_for=(requests.ConnectionError, requests.Timeout),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
)
def refresh_prices(sessions: int = REFRESH_SESSIONS, as_of: str | None = None) -> dict[str, Any]:
    """Reload the last ``sessions`` completed sessions of every symbol from ``MARKET_DATA_PROVIDER``.

    Idempotent: unchanged bars are left alone, so running it twice changes nothing. Only
    completed sessions are loaded, so a stored bar is always a final one. ``as_of`` (an ISO
    datetime, UTC when naive) pins "now", for backfills and tests. Retries only on connection
    errors and timeouts; a provider that rejects a symbol is reported in the result instead.
    """
    now = datetime.fromisoformat(as_of) if as_of else None
    end = calendar.latest_completed_session(now)
    start = calendar.add_trading_days(end, -(max(1, sessions) - 1))
    provider = provider_build(today=now)
    summaries = prices_load(provider=provider, symbols=ALL_SYMBOLS, start=start, end=end)
    for summary in summaries:
        if summary.error:
            logger.warning("price refresh of %s from %s failed: %s", summary.symbol, provider.name, summary.error)
    # A "price.update" live message for users holding a symbol with a new latest bar belongs here
    # once portfolios exist; nobody owns positions yet.
    return {
        "source": provider.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "created": sum(s.created for s in summaries),
        "updated": sum(s.updated for s in summaries),
        "unchanged": sum(s.unchanged for s in summaries),
        "failed": {s.symbol: s.error for s in summaries if s.error},
        "skipped": {s.symbol: s.skipped for s in summaries if s.skipped},
    }
