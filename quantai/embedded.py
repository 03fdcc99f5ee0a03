"""The embedded mode's start-up work (``manage.py serve``, which ``make run`` starts).

- :func:`orphaned_runs_fail`: the file-system broker hands a message to the worker once and forgets it, so a
  training run or backtest that was running when the server stopped will never finish; it is marked failed
  with that reason (queued runs stay queued: their messages wait in the broker folder and run).
- :func:`first_start_jobs`: queue what a fresh installation needs to show a living product without anybody
  typing a command: the latest day's recommendations for every investor and, while no model is trained (and
  none is being trained), a training run of the light model kinds. The worker takes them at once; the nightly
  schedule does the rest.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

#: Model kinds the first start trains (minutes on two cores); the nightly run trains every available kind.
FIRST_START_KINDS: tuple[str, ...] = ("rf", "xgb")
#: The error code of a job the stopped server left running (the jobs' other codes: quantai.jobs).
SERVER_STOPPED = "server_stopped"
STOPPED = "the server stopped while this ran (the embedded worker stops with it); start it again"


def orphaned_runs_fail() -> dict[str, int]:
    """Mark training runs and backtests left ``running`` by a stopped embedded worker as failed."""
    from backtesting.models import BacktestRun
    from backtesting.models import RunStatus as BacktestStatus
    from learning.models import RunStatus, TrainingRun

    now = timezone.now()
    training = TrainingRun.objects.filter(status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=now, error=STOPPED, error_code=SERVER_STOPPED, stage="failed: server stopped"
    )
    backtests = BacktestRun.objects.filter(status=BacktestStatus.RUNNING).update(
        status=BacktestStatus.FAILED, finished_at=now, error=STOPPED, error_code=SERVER_STOPPED, stage="failed: server stopped"
    )
    if training or backtests:
        logger.warning("marked %s training run(s) and %s backtest(s) failed: %s", training, backtests, STOPPED)
    return {"training_runs": training, "backtests": backtests}


def first_start_jobs() -> dict[str, Any]:
    """Queue the latest day's recommendations and, without an active or running model, a first training run."""
    from learning import selectors as learning_selectors
    from learning.models import ModelKind, RunTrigger
    from learning.services.config import available_kinds
    from learning.services.runs import training_run_create
    from learning.tasks import train_models
    from recommendations.selectors import latest_price_date
    from recommendations.tasks import generate_recommendations

    queued: dict[str, Any] = {"recommendations": None, "training_run": None}
    day = latest_price_date()
    if day is not None:
        generate_recommendations.apply_async(kwargs={"day": day.isoformat()})
        queued["recommendations"] = day.isoformat()
    if learning_selectors.active_version(kind=ModelKind.ENSEMBLE) is None and learning_selectors.run_in_progress() is None:
        kinds = [k for k in FIRST_START_KINDS if k in available_kinds()] or None
        task_id = str(uuid.uuid4())
        with transaction.atomic():
            run = training_run_create(trigger=RunTrigger.COMMAND, kinds=kinds, task_id=task_id)
            # Generate again once the model exists (the task returns, never raises, so the link always runs).
            then = generate_recommendations.si(day=day.isoformat()) if day is not None else None
            transaction.on_commit(lambda: train_models.apply_async(kwargs={"run_id": run.pk}, task_id=task_id, link=then))
        queued["training_run"] = run.pk
    return queued
