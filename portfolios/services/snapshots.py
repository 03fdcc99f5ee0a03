"""Keeping the analytics snapshots current: after each ledger write (one user) and after new closes (everyone).

The figures themselves come from :func:`portfolios.selectors.reports.snapshot_compute`; this module decides
when. Both entry points are safe to run twice: a current snapshot is left alone, and storing is a
compare-and-set that never replaces a newer row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.db.models import Max

from market.selectors import prices_version
from portfolios.models import PortfolioSnapshot, Trade
from portfolios.selectors.reports import (
    SNAPSHOT_FORMAT,
    daily_closes_since,
    ledger_last_id,
    snapshot_compute,
    snapshot_is_current,
)
from quantai.task_queue import delay_on_commit


def portfolio_snapshot_refresh(*, user_id: int) -> bool:
    """Recompute one user's snapshot unless it is current; ``True`` when it was recomputed."""
    snapshot = PortfolioSnapshot.objects.filter(user_id=user_id).first()
    if snapshot_is_current(snapshot, last_id=ledger_last_id(user_id), version=prices_version()):
        return False
    snapshot_compute(user_id)
    return True


def portfolio_snapshots_refresh(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute every snapshot that is missing or outdated (after new closes, a format change); returns how many.

    Reads the closes once for all users; three queries to find the outdated ones, then one read and
    one write per recomputed user. ``progress(done, total)`` is called after each user.
    """
    version = prices_version()
    last_ids = dict(Trade.objects.values("user_id").annotate(last=Max("id")).values_list("user_id", "last"))
    stored = {
        uid: (fmt, last, ver)
        for uid, fmt, last, ver in PortfolioSnapshot.objects.values_list("user_id", "format", "ledger_last_id", "prices_version")
    }
    outdated = [uid for uid, last in sorted(last_ids.items()) if stored.get(uid) != (SNAPSHOT_FORMAT, last, version)]
    if not outdated:
        return 0
    closes = daily_closes_since(date.min)  # every close, read once; each user's computation slices its period
    for done, uid in enumerate(outdated, start=1):
        snapshot_compute(uid, closes=closes)
        if progress is not None:
            progress(done, len(outdated))
    return len(outdated)


def portfolio_snapshot_schedule(*, user_id: int) -> None:
    """Queue a refresh of the user's snapshot once the current transaction commits (call it from ledger writes).

    Best effort: with the broker down the trade stands and nothing is lost, because a snapshot older than the
    ledger is never served (the next read recomputes it), so a failed send is logged, never raised.
    """
    from portfolios.tasks import refresh_portfolio_snapshot  # tasks import the services

    delay_on_commit(refresh_portfolio_snapshot, user_id, what=f"snapshot refresh for user {user_id}")
