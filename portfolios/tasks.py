"""Celery tasks of the portfolios app: thin wrappers over :mod:`portfolios.services`."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from portfolios.selectors import ledger_verify
from portfolios.services import positions_revalue

logger = logging.getLogger(__name__)


@shared_task(name="portfolios.tasks.revalue_positions")
def revalue_positions() -> dict[str, Any]:
    """Value every position at the latest close and refresh every user's totals (run after each price refresh).

    Safe to run twice: it only writes values computed from the current rows and prices.
    """
    result = positions_revalue()
    return {"positions": result.positions, "users": result.users, "prices": {s: str(p) for s, p in result.prices.items()}}


@shared_task(name="portfolios.tasks.verify_ledgers")
def verify_ledgers() -> dict[str, Any]:
    """Replay every ledger; log an error per user whose stored positions or cash differ (nothing is changed)."""
    reports = ledger_verify()
    for report in reports:
        logger.error(
            "ledger of %s (#%s) differs from its stored rows: %s", report.username, report.user_id, "; ".join(report.problems)
        )
    return {"differences": {r.username: r.problems for r in reports}}
