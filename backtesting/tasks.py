"""Celery task of the backtesting lab (routed to the ``ml`` queue by ``task_routes``): a thin wrapper.

The task receives the run's id only, re-fetches it, and returns quietly when the run is gone. A run
that already finished is returned as it is (never re-run), so a task delivered twice changes nothing; a run
left running by a lost worker restarts when its own task (same task id) is delivered again.
No retries: a backtest is deterministic, so a failure would fail again; it is stored on the run.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)

#: A rule system's full-history sweep takes seconds; the ml and engine systems refit dozens of models (the
#: stacked ensemble over the full history: tens of minutes). The limits only stop a run that hangs.
SOFT_TIME_LIMIT = 60 * 60
TIME_LIMIT = 62 * 60


@shared_task(name="backtesting.tasks.run_backtest", bind=True, soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def run_backtest(self: Any, run_id: int) -> dict[str, Any]:
    """Run queued backtest ``run_id`` and store its results."""
    from backtesting.services import backtest_run

    run = backtest_run(run_id=int(run_id), task_id=str(self.request.id or ""))
    if run is None:
        logger.info("backtest #%s no longer exists; nothing to do", run_id)
        return {"run_id": run_id, "status": "missing"}
    return {"run_id": run.pk, "status": run.status}
