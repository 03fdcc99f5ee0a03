"""Training runs: requesting one, and the short writes that move it through its life.

A training run is a long job: queued -> running -> succeeded | failed | skipped, moved by the lifecycle of
:mod:`quantai.jobs` (:data:`TRAINING` says how). Only one run works at a time: starting a run locks every
queued or running row (in id order, so two starters never deadlock) and a run that finds another one alive
is skipped with that reason. A run whose worker died holds nothing forever: after
``LEARNING_RUN_STALE_SECONDS`` it no longer counts as alive and the next start marks it failed (``worker_lost``).

Progress goes to the run's row (``progress``, ``stage``, ``log``) and, live, to every operator's open
browsers and the run's starter as ``job.progress`` messages.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from django.db import transaction

from learning import selectors
from learning.models import RunTrigger, TrainingRun
from learning.services.config import clean_kinds
from quantai.errors import Conflict
from quantai.health import require_task_queue
from quantai.jobs import (
    JobType,
    job_fail,
    job_progress_reporter,
    job_skip,
    job_start,
    job_succeed,
)

logger = logging.getLogger(__name__)

JOB_NAME = "training"


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


def _recipients(run: TrainingRun) -> set[int]:
    """Every operator, and whoever started the run."""
    recipients = set(selectors.operator_ids())
    if run.triggered_by_id is not None:
        recipients.add(run.triggered_by_id)
    return recipients


#: Training runs as long jobs: one at a time, and a running one whose worker was lost gives way after
#: ``LEARNING_RUN_STALE_SECONDS``. Its failures the operator can act on are :class:`quantai.jobs.JobError`s
#: (:mod:`learning.services.training`), which carry their codes.
TRAINING = JobType(
    model=TrainingRun,
    name=JOB_NAME,
    label="training run",
    recipients=_recipients,
    exclusive=True,
    stale_after=selectors.run_stale_after,
)


def training_run_start(*, run_id: int, task_id: str = "") -> tuple[TrainingRun, bool]:
    """Move run ``run_id`` from queued to running (:func:`quantai.jobs.job_start`). Returns ``(run, started)``.

    ``started`` is False when the run was already handled (a task delivered twice), or when another live
    run holds the slot (then this run is marked skipped). A run left ``running`` by a lost worker restarts
    when the same task (same ``task_id``) is delivered again.
    """
    run, started = job_start(job_type=TRAINING, job_id=run_id, task_id=task_id)
    if run is None:
        raise TrainingRun.DoesNotExist(f"training run #{run_id} does not exist")
    return run, started


def training_run_succeed(*, run: TrainingRun, result: dict[str, Any], data_hash: str) -> None:
    job_succeed(job_type=TRAINING, job=run, note=_result_note(result), fields={"result": result, "data_hash": data_hash})


def training_run_skip(*, run: TrainingRun, reason: str, data_hash: str = "") -> None:
    job_skip(job_type=TRAINING, job=run, reason=reason, fields={"data_hash": data_hash, "result": {"skipped": reason}})


def training_run_fail(*, run: TrainingRun, error: BaseException) -> None:
    """Finish ``run`` as failed: the error's type gives its code; its message (with the type's name) is for operators."""
    job_fail(job_type=TRAINING, job=run, error=error, message=f"{type(error).__name__}: {error}")


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


def progress_reporter(run: TrainingRun, callback: Callable[[int, str], None] | None = None) -> Callable[[int, str], None]:
    """A ``progress(percent, stage)`` function for the pipeline: records and pushes each new percent."""
    return job_progress_reporter(job_type=TRAINING, job=run, callback=callback)
