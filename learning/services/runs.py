"""Training runs: requesting one, and the short writes that move it through its life.

queued -> running -> succeeded | failed | skipped. Only one run works at a time: starting a run locks
every queued or running row (in id order, so two starters never deadlock) and a run that finds another one
alive is skipped with that reason. A run whose worker died holds nothing forever: after
``LEARNING_RUN_STALE_SECONDS`` it no longer counts as alive and the next start marks it failed.

Progress goes to the run's row (``progress``, ``stage``, ``log``) and, live, to every operator's open
browsers as ``job.progress`` messages (:func:`quantai.notifier.notify_user`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from learning import selectors
from learning.models import RunStatus, RunTrigger, TrainingRun
from learning.services.config import clean_kinds
from quantai.errors import Conflict
from quantai.health import require_task_queue
from quantai.notifier import notify_user

logger = logging.getLogger(__name__)

JOB_NAME = "training"
LOG_LIMIT = 20_000  # characters of log kept on the row; the worker's own log has everything


def _enqueue(run_id: int, task_id: str) -> None:
    from learning.tasks import train_models

    train_models.apply_async(kwargs={"run_id": run_id}, task_id=task_id)


def training_run_request(*, user: Any, kinds: Sequence[str] | None = None, until: date | None = None) -> TrainingRun:
    """Queue a training run for ``user`` (an operator) and enqueue its task once the row is committed.

    Raises :class:`Conflict` when a run is already queued or running, and ``ValidationFailed`` for unknown kinds.
    """
    chosen = clean_kinds(kinds) if kinds else []
    require_task_queue()  # Redis down: 503 before storing a run that no worker would ever take
    with transaction.atomic():
        busy = selectors.run_in_progress()
        if busy is not None:
            raise Conflict(
                f"training run #{busy.pk} is already {busy.status}; wait for it to finish", code="training_in_progress"
            )
        run = TrainingRun.objects.create(
            triggered_by=user, trigger=RunTrigger.USER, kinds=chosen, until=until, task_id=str(uuid.uuid4())
        )
        transaction.on_commit(lambda: _enqueue(run.pk, run.task_id))
    logger.info("training run #%s requested by %s (kinds %s, until %s)", run.pk, user, chosen or "default", until)
    return run


def training_run_create(
    *, trigger: str, kinds: Sequence[str] | None = None, until: date | None = None, triggered_by: Any = None, task_id: str = ""
) -> TrainingRun:
    """A queued run for the schedule or a command (no busy check: starting it does that)."""
    return TrainingRun.objects.create(
        trigger=trigger, triggered_by=triggered_by, kinds=clean_kinds(kinds) if kinds else [], until=until, task_id=task_id
    )


def training_run_start(*, run_id: int, task_id: str = "") -> tuple[TrainingRun, bool]:
    """Move run ``run_id`` from queued to running. Returns ``(run, started)``.

    ``started`` is False when the run was already handled (a task delivered twice), or when another live
    run holds the slot (then this run is marked skipped). A run left ``running`` by a lost worker restarts
    when the same task (same ``task_id``) is delivered again.
    """
    now = timezone.now()
    with transaction.atomic():
        # Lock every queued/running row in id order: two starters serialise here instead of both starting.
        pending = list(
            TrainingRun.objects.select_for_update()
            .filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
            .order_by("id")
            .values_list("id", flat=True)
        )
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        redelivered = run.status == RunStatus.RUNNING and bool(task_id) and run.task_id == task_id
        if run.status != RunStatus.QUEUED and not redelivered:
            return run, False
        cutoff = now - selectors.run_stale_after()
        for other in TrainingRun.objects.filter(pk__in=pending, status=RunStatus.RUNNING).exclude(pk=run.pk):
            if other.started_at is not None and other.started_at < cutoff:
                _finish(other, status=RunStatus.FAILED, error="no result within the time limit: its worker was lost", now=now)
                continue
            _finish(run, status=RunStatus.SKIPPED, error="", now=now, note=f"skipped: training run #{other.pk} is in progress")
            return run, False
        run.status = RunStatus.RUNNING
        run.started_at = now
        run.progress = max(run.progress, 1) if redelivered else 1
        run.stage = "starting"
        if task_id:
            run.task_id = task_id
        run.log = _append(run.log, "restarted after its worker was lost" if redelivered else "started", now)
        run.save(update_fields=["status", "started_at", "progress", "stage", "task_id", "log"])
    _notify(run)
    return run, True


def _append(log: str, line: str, now: Any = None) -> str:
    stamp = (now or timezone.now()).strftime("%Y-%m-%d %H:%M:%S")
    text = f"{log}{stamp} {line}\n"
    return text[-LOG_LIMIT:]


def _finish(run: TrainingRun, *, status: str, error: str, now: Any = None, note: str = "", **fields: Any) -> None:
    now = now or timezone.now()
    run.status = status
    run.finished_at = now
    if run.started_at is not None:
        run.duration_seconds = round((now - run.started_at).total_seconds(), 3)
    run.error = error[:10_000]
    if status != RunStatus.FAILED:
        run.progress = 100
    run.stage = note or status
    run.log = _append(run.log, note or (f"failed: {error}" if error else status), now)
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(update_fields=["status", "finished_at", "duration_seconds", "error", "progress", "stage", "log", *fields])
    _notify(run)  # notify_user itself sends only once the transaction commits


def training_run_progress(*, run: TrainingRun, percent: int, stage: str) -> None:
    """Record progress (a short write of its own) and push it to operators."""
    percent = max(0, min(99, int(percent)))
    run.progress, run.stage = percent, stage[:120]
    run.log = _append(run.log, f"{percent:3d}% {stage}")
    TrainingRun.objects.filter(pk=run.pk).update(progress=run.progress, stage=run.stage, log=run.log)
    _notify(run)


def training_run_succeed(*, run: TrainingRun, result: dict[str, Any], data_hash: str) -> None:
    with transaction.atomic():
        _finish(run, status=RunStatus.SUCCEEDED, error="", note=_result_note(result), result=result, data_hash=data_hash)


def training_run_skip(*, run: TrainingRun, reason: str, data_hash: str = "") -> None:
    with transaction.atomic():
        _finish(
            run, status=RunStatus.SKIPPED, error="", note=f"skipped: {reason}", data_hash=data_hash, result={"skipped": reason}
        )


def training_run_fail(*, run: TrainingRun, error: str) -> None:
    with transaction.atomic():
        _finish(run, status=RunStatus.FAILED, error=error)


def _result_note(result: dict[str, Any]) -> str:
    parts = []
    for kind, entry in result.get("versions", {}).items():
        parts.append(f"{kind} v{entry['version']} {'active' if entry['promoted'] else 'candidate'}")
    edge = result.get("edge") or {}
    head = "succeeded"
    if edge.get("found") is False:
        auc = edge.get("auc")
        head = f"no edge found (AUC {auc:.2f})" if isinstance(auc, (int, float)) else "no edge found"
    return (f"{head}: " + ", ".join(parts))[:120] if parts else head


def _notify(run: TrainingRun) -> None:
    finished = {str(RunStatus.FAILED): "failed", str(RunStatus.SUCCEEDED): "finished", str(RunStatus.SKIPPED): "finished"}
    status = finished.get(str(run.status), "running")
    payload: Any = {"job": JOB_NAME, "job_id": str(run.pk), "done": int(run.progress), "total": 100, "status": status}
    recipients = set(selectors.operator_ids())
    if run.triggered_by_id is not None:
        recipients.add(run.triggered_by_id)
    for user_id in sorted(recipients):
        notify_user(user_id, "job.progress", payload)


def progress_reporter(run: TrainingRun, callback: Callable[[int, str], None] | None = None) -> Callable[[int, str], None]:
    """A ``progress(percent, stage)`` function for the pipeline: records and pushes each new stage."""
    last: dict[str, Any] = {"percent": -1, "stage": None}

    def report(percent: int, stage: str) -> None:
        if callback is not None:
            callback(percent, stage)
        if percent == last["percent"] and stage == last["stage"]:
            return
        last.update(percent=percent, stage=stage)
        training_run_progress(run=run, percent=percent, stage=stage)

    return report
