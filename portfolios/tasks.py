"""Celery tasks of the portfolios app: thin wrappers over :mod:`portfolios.services`."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from portfolios.alerts import risk_alerts_check
from portfolios.selectors import ledger_verify
from portfolios.services import portfolio_snapshot_refresh, portfolio_snapshots_refresh, positions_revalue

logger = logging.getLogger(__name__)


@shared_task(name="portfolios.tasks.revalue_positions")
def revalue_positions() -> dict[str, Any]:
    """Value every position at the latest close and refresh every user's totals (run after each price refresh).

    Safe to run twice: it only writes values computed from the current rows and prices.
    """
    result = positions_revalue()
    # Stop losses and take profits are judged on the values just written; a separate task so that a
    # failing alert check never undoes (or retries) the revaluation.
    check_risk_alerts.delay()
    # New closes make every analytics snapshot outdated: recompute them once, here, not in requests.
    refresh_portfolio_snapshots.delay()
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


@shared_task(name="portfolios.tasks.check_risk_alerts")
def check_risk_alerts() -> dict[str, Any]:
    """Raise stop-loss / take-profit alerts for new crossings and run automatic exits (after each revaluation).

    Safe to run twice: a crossing raises one alert and one exit trade (see :mod:`portfolios.alerts`).
    """
    result = risk_alerts_check()
    return {
        "enabled": result.enabled,
        "raised": result.raised,
        "released": result.released,
        "auto_executed": result.auto_executed,
        "auto_failed": result.auto_failed,
    }


@shared_task(name="portfolios.tasks.refresh_portfolio_snapshot", ignore_result=True)
def refresh_portfolio_snapshot(user_id: int) -> bool:
    """Recompute one user's analytics snapshot unless it is current (queued after each ledger write).

    Safe to run twice and for a deleted user (nothing to compute, nothing stored).
    """
    from accounts.models import User

    if not User.objects.filter(pk=user_id).exists():
        return False
    return portfolio_snapshot_refresh(user_id=user_id)


@shared_task(name="portfolios.tasks.refresh_portfolio_snapshots")
def refresh_portfolio_snapshots() -> dict[str, Any]:
    """Recompute every missing or outdated analytics snapshot (after each revaluation: new closes outdate them all).

    Safe to run twice: the second run finds them all current.
    """
    return {"refreshed": portfolio_snapshots_refresh()}
