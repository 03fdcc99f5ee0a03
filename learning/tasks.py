"""Celery tasks of the learning app (routed to the ``ml`` queue by ``task_routes``): thin wrappers over the services.

The ML libraries are imported when a task runs, never when this module is imported.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)

#: Training on the full history takes minutes; the limits only stop a run that hangs.
SOFT_TIME_LIMIT = 2 * 3600
TIME_LIMIT = 2 * 3600 + 10 * 60


@shared_task(name="learning.tasks.train_models", bind=True, soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def train_models(
    self: Any, run_id: int | None = None, until: str | None = None, kinds: list[str] | None = None
) -> dict[str, Any]:
    """Execute queued run ``run_id`` or, without one (the nightly schedule), a new scheduled run.

    Safe to run twice: a run that was already handled is returned as it is. No retries: a failed run is
    recorded on its row (status, error, log) and reported in the result, and the next night (or an
    operator) tries again. Time limits are on the decorator: training on the full history takes minutes.
    """
    from learning.models import RunTrigger, TrainingRun
    from learning.services.training import models_train

    task_id = str(self.request.id or "")
    if run_id is not None and not TrainingRun.objects.filter(pk=run_id).exists():
        logger.info("training run #%s no longer exists; nothing to do", run_id)
        return {"run_id": run_id, "status": "missing"}
    try:
        run = models_train(
            run_id=run_id,
            until=date.fromisoformat(until) if until else None,
            kinds=kinds,
            trigger=RunTrigger.SCHEDULE,
            task_id=task_id,
        )
    except Exception as exc:  # noqa: BLE001 - already recorded on the run (status failed, error, log); no retry
        # Returning instead of raising keeps an eager run (no broker: development) from turning the
        # request that queued it into a 500 after the fact; the run row is where failures are read.
        failed = TrainingRun.objects.filter(task_id=task_id).exclude(task_id="").order_by("-id").first() if task_id else None
        failed_id = run_id if run_id is not None else (failed.pk if failed else None)
        return {"run_id": failed_id, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {"run_id": run.pk, "status": run.status, "result": run.result}
