"""Celery tasks of the learning app (routed to the ``ml`` queue by ``task_routes``): thin wrappers over the services.

The ML libraries are imported when a task runs, never when this module is imported.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from quantai.tasks_lock import once_per_period

logger = logging.getLogger(__name__)

#: The queue whose worker trains (``task_routes`` sends every learning task there).
ML_QUEUE = "ml"


@worker_ready.connect(dispatch_uid="learning.record-trainable-kinds")
def record_trainable_kinds_at_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker that consumes the ``ml`` queue says which kinds it can train as soon as it is up, so the Learning page
    offers exactly those before the first training run (each run records them again). Looked up, not imported: no ML
    library is loaded here."""
    try:
        queues = sender.app.amqp.queues.consume_from
    except AttributeError:
        return
    if ML_QUEUE not in queues:
        return
    from learning.services.config import trainable_kinds_record

    try:
        record = trainable_kinds_record()
    except Exception:  # the cache is down: the first training run records them
        logger.warning("trainable kinds not recorded at worker start: the cache is unavailable", exc_info=True)
        return
    logger.info("this worker can train: %s", ", ".join(record["kinds"]) or "no kind (no ML library installed)")


#: Training on the full history takes minutes; the limits only stop a run that hangs.
SOFT_TIME_LIMIT = 2 * 3600
TIME_LIMIT = 2 * 3600 + 10 * 60
#: The nightly run is claimed for half a day: two beats send it once, however far apart they started.
NIGHTLY = 12 * 3600


@shared_task(name="learning.tasks.train_models", bind=True, soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
@once_per_period(NIGHTLY)
def train_models(
    self: Any, run_id: int | None = None, until: str | None = None, kinds: list[str] | None = None
) -> dict[str, Any]:
    """Execute queued run ``run_id`` or, without one (the nightly schedule), a new scheduled run.

    Safe to run twice: a run that was already handled is returned as it is. No retries: a failed run is
    recorded on its row (status, error, log) and reported in the result, and the next night (or an
    operator) tries again. Time limits are on the decorator: training on the full history takes minutes.

    Delivered again after its worker was killed (late acknowledgement, same task id): the scheduled task
    finds the run it created rather than starting a second one, the files the lost attempt left (a
    half-written temporary file, artifacts it stored but never registered) are removed, and the run restarts.
    Two beats sending the nightly task produce one run (:func:`quantai.tasks_lock.once_per_period`).
    """
    from learning import registry
    from learning.models import RunStatus, RunTrigger, TrainingRun
    from learning.services.training import models_train

    task_id = str(self.request.id or "")
    if run_id is not None and not TrainingRun.objects.filter(pk=run_id).exists():
        logger.info("training run #%s no longer exists; nothing to do", run_id)
        return {"run_id": run_id, "status": "missing"}
    if run_id is None and task_id:
        # A redelivered scheduled task: the run it created before its worker was lost.
        run_id = TrainingRun.objects.filter(task_id=task_id).order_by("id").values_list("id", flat=True).first()
    if (
        run_id is not None
        and TrainingRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, task_id=task_id).exclude(task_id="").exists()
    ):
        registry.artifact_leftovers_remove(prefix=f"run{run_id}-")
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
