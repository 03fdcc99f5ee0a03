"""Long jobs: one abstract model and one lifecycle for every job that runs outside a request.

A job (a training run, a backtest run, a snapshot or report job) is a row that moves
queued -> running -> succeeded | failed | skipped and never changes again once finished. Its app's model
inherits :class:`Job` (status, progress, stage, log, error code and message, task id, timestamps) and its
services move it through its life with the functions below, given the app's :class:`JobType`:

- :func:`job_start`: queued -> running under ``select_for_update()``; a task delivered twice starts it once.
  A job left ``running`` by a lost worker restarts only when its own task (same task id) is delivered again.
  An *exclusive* type lets one job work at a time: the starter locks every open row (in id order, so two
  starters never deadlock), fails the others whose worker was lost (older than ``stale_after``) and is
  skipped if another one is alive;
- :func:`job_progress` / :func:`job_progress_reporter`: progress and stage of a running job (a short write of
  its own, at most one a percent);
- :func:`job_succeed`, :func:`job_skip`, :func:`job_fail`: a conditional ``UPDATE`` of an open row, so a job
  is finished once: a second finish (a duplicate delivery that lost the race) changes nothing.

A failure records the error's *type* as a stable ``error_code`` (:func:`error_code_of`), never a reading of
its message: a :class:`JobError` or :class:`~quantai.errors.ApplicationError` carries its own code, an
app maps the types of its numerical core in ``JobType.error_codes``, anything else is ``internal_error``.

Every change is pushed live as a ``job.progress`` message (:class:`quantai.notifier.JobProgress`) to the
type's recipients, after the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from quantai.errors import ApplicationError
from quantai.notifier import JobProgress, notify_user

logger = logging.getLogger(__name__)

#: Characters of log kept on the row; the worker's own log has everything.
LOG_LIMIT = 20_000
ERROR_LIMIT = 10_000
STAGE_LIMIT = 120


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


#: Statuses after which a job never changes again.
FINISHED_STATUSES: tuple[str, ...] = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.SKIPPED)
#: Statuses a job can still leave: the only ones a finish may write over.
OPEN_STATUSES: tuple[str, ...] = (JobStatus.QUEUED, JobStatus.RUNNING)

#: The ``error_code`` of a failure no type explains (the message says which exception; the log has the traceback).
INTERNAL_ERROR = "internal_error"
#: The worker's soft or hard time limit stopped the job.
TIME_LIMIT = "time_limit"
#: The process was interrupted (Ctrl-C on a command, the worker shutting down).
INTERRUPTED = "interrupted"


class JobError(Exception):
    """A failure of a job that its starter can act on: ``code`` is stable for programs, the message is for people."""

    code: str = "job_failed"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class WorkerLost(JobError):
    """A running job gave no result within its type's time: its worker was lost."""

    code = "worker_lost"


class Job(models.Model):
    """The fields every long job has. Subclasses add what the job is about and, in their ``Meta`` (extending
    ``Job.Meta``), the check that ``status`` is one of their statuses and their indexes."""

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100 %")
    stage = models.CharField(max_length=STAGE_LIMIT, blank=True, help_text="what the run is doing now")
    log = models.TextField(blank=True)
    error_code = models.CharField(
        max_length=40, blank=True, help_text="what kind of failure, by the error's type (stable for programs)"
    )
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(progress__lte=100), name="%(class)s_progress_at_most_100")]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@dataclass(frozen=True)
class JobType:
    """How the lifecycle treats one job model."""

    model: type[Job]
    #: The ``job`` of its ``job.progress`` messages ("training", "backtest").
    name: str
    #: How messages name one job ("training run" -> "training run #12 is in progress").
    label: str
    #: Ids of the users told about a job's progress.
    recipients: Callable[[Any], Iterable[int]]
    #: ``(exception type, error code)`` for types that carry no code of their own, first match wins.
    error_codes: tuple[tuple[type[BaseException], str], ...] = ()
    #: One job of this type works at a time (see :func:`job_start`).
    exclusive: bool = False
    #: For an exclusive type: how long a running job may go without finishing before its worker counts as lost.
    stale_after: Callable[[], timedelta] | None = None


def error_code_of(error: BaseException, *, codes: Iterable[tuple[type[BaseException], str]] = ()) -> str:
    """The stable code of ``error``, from its type only: the first of ``codes`` it is an instance of, else the
    code a :class:`JobError` or :class:`ApplicationError` carries, else :data:`TIME_LIMIT`,
    :data:`INTERRUPTED` or :data:`INTERNAL_ERROR`."""
    from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

    for kind, code in codes:
        if isinstance(error, kind):
            return code
    if isinstance(error, (JobError, ApplicationError)):
        return error.code
    if isinstance(error, (SoftTimeLimitExceeded, TimeLimitExceeded)):
        return TIME_LIMIT
    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        return INTERRUPTED
    return INTERNAL_ERROR


def _append(log: str, line: str, now: datetime | None = None) -> str:
    stamp = (now or timezone.now()).strftime("%Y-%m-%d %H:%M:%S")
    return f"{log}{stamp} {line}\n"[-LOG_LIMIT:]


#: A job's status as the browser hears it (``job.progress``): running until it finished, then finished or failed.
_LIVE_STATUS: dict[str, Literal["running", "finished", "failed"]] = {
    JobStatus.FAILED.value: "failed",
    JobStatus.SUCCEEDED.value: "finished",
    JobStatus.SKIPPED.value: "finished",
}


def job_notify(*, job_type: JobType, job: Job) -> None:
    """Push the job's state as ``job.progress`` to each of its type's recipients (after the commit)."""
    payload: JobProgress = {
        "job": job_type.name,
        "job_id": str(job.pk),
        "done": int(job.progress),
        "total": 100,
        "status": _LIVE_STATUS.get(str(job.status), "running"),
    }
    for user_id in sorted(set(job_type.recipients(job))):
        notify_user(user_id, "job.progress", payload)


def job_start(*, job_type: JobType, job_id: int, task_id: str = "") -> tuple[Any, bool]:
    """Move job ``job_id`` from queued to running. Returns ``(job, started)``; ``job`` is None when it is gone.

    ``started`` is False when the job was already handled (finished, or running under another delivery), or,
    for an exclusive type, when another live job holds the slot (then this one is skipped with that reason).
    A job left running by a lost worker restarts when its own task (same non-empty ``task_id``) is delivered again.
    """
    model = job_type.model
    now = timezone.now()
    with transaction.atomic():
        pending: list[int] = []
        if job_type.exclusive:
            # Every open row, in id order: two starters serialise here instead of both starting.
            pending = list(
                model._default_manager.select_for_update()
                .filter(status__in=OPEN_STATUSES)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        job = model._default_manager.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None, False
        redelivered = job.status == JobStatus.RUNNING and bool(task_id) and job.task_id == task_id
        if job.status != JobStatus.QUEUED and not redelivered:
            return job, False
        if job_type.exclusive:
            cutoff = now - job_type.stale_after() if job_type.stale_after is not None else None
            for other in (
                model._default_manager.filter(pk__in=pending, status=JobStatus.RUNNING).exclude(pk=job.pk).order_by("pk")
            ):
                if cutoff is not None and other.started_at is not None and other.started_at < cutoff:
                    lost = WorkerLost("no result within the time limit: its worker was lost")
                    _finish(job_type, other, status=JobStatus.FAILED, code=lost.code, message=str(lost), now=now)
                    continue
                _finish(
                    job_type, job, status=JobStatus.SKIPPED, note=f"skipped: {job_type.label} #{other.pk} is in progress", now=now
                )
                return job, False
        job.status = JobStatus.RUNNING
        job.started_at = now
        job.progress, job.stage, job.error, job.error_code = 1, "starting", "", ""
        if task_id:
            job.task_id = task_id
        job.log = _append(job.log, "restarted after its worker was lost" if redelivered else "started", now)
        job.save(update_fields=["status", "started_at", "progress", "stage", "error", "error_code", "task_id", "log"])
        job_notify(job_type=job_type, job=job)
    return job, True


def job_progress(*, job_type: JobType, job: Job, percent: int, stage: str) -> bool:
    """Record a running job's progress (1-99 %) and stage, and push it. False (nothing written) once it finished."""
    percent = max(1, min(99, int(percent)))
    stage = stage[:STAGE_LIMIT]
    log = _append(job.log, f"{percent:3d}% {stage}")
    updated = job_type.model._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        progress=percent, stage=stage, log=log
    )
    if not updated:
        return False
    job.progress, job.stage, job.log = percent, stage, log
    job_notify(job_type=job_type, job=job)
    return True


def job_progress_reporter(
    *, job_type: JobType, job: Job, callback: Callable[[int, str], None] | None = None
) -> Callable[[int, str], None]:
    """A ``progress(percent, stage)`` function for a numerical core: ``callback`` (a command's progress bar) hears
    every call; the row and the browsers hear each new percent (at most 99 writes a job)."""
    last = {"percent": int(job.progress)}

    def report(percent: int, stage: str) -> None:
        if callback is not None:
            callback(percent, stage)
        clamped = max(1, min(99, int(percent)))
        if clamped == last["percent"]:
            return
        last["percent"] = clamped
        job_progress(job_type=job_type, job=job, percent=clamped, stage=stage)

    return report


def _finish(
    job_type: JobType,
    job: Job,
    *,
    status: str,
    code: str = "",
    message: str = "",
    note: str = "",
    fields: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> bool:
    now = now or timezone.now()
    default_stage = {str(JobStatus.SUCCEEDED): "done", str(JobStatus.FAILED): "failed", str(JobStatus.SKIPPED): "skipped"}
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "duration_seconds": round((now - job.started_at).total_seconds(), 3) if job.started_at is not None else None,
        "error_code": code,
        "error": message[:ERROR_LIMIT],
        "stage": (note or default_stage[str(status)])[:STAGE_LIMIT],
        "log": _append(job.log, note or (f"failed: {message}" if message else str(status)), now),
        **(fields or {}),
    }
    if status != JobStatus.FAILED:
        values["progress"] = 100
    # Only an open job is finished: a second finish (a duplicate delivery that lost the race) changes nothing.
    updated = job_type.model._default_manager.filter(pk=job.pk, status__in=OPEN_STATUSES).update(**values)
    if not updated:
        try:
            job.refresh_from_db()
        except job_type.model.DoesNotExist:
            return False
        logger.info("%s #%s was already %s; not finished again as %s", job_type.label, job.pk, job.status, status)
        return False
    for name, value in values.items():
        setattr(job, name, value)
    job_notify(job_type=job_type, job=job)  # notify_user itself sends only once the transaction commits
    return True


def job_succeed(*, job_type: JobType, job: Job, note: str = "", fields: Mapping[str, Any] | None = None) -> bool:
    """Finish ``job`` as succeeded with ``fields`` (its results) written in the same ``UPDATE``; ``note`` becomes its
    stage. False when it had already finished (then nothing is written)."""
    return _finish(job_type, job, status=JobStatus.SUCCEEDED, note=note, fields=fields)


def job_skip(*, job_type: JobType, job: Job, reason: str, fields: Mapping[str, Any] | None = None) -> bool:
    """Finish ``job`` as skipped (there was nothing to do) for ``reason``. False when it had already finished."""
    return _finish(job_type, job, status=JobStatus.SKIPPED, note=f"skipped: {reason}", fields=fields)


def job_fail(
    *,
    job_type: JobType,
    job: Job,
    error: BaseException,
    message: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> bool:
    """Finish ``job`` as failed by ``error``: its code from its type (:func:`error_code_of` with the type's
    ``error_codes``), ``message`` (default: the error's text) for people. False when it had already finished."""
    code = error_code_of(error, codes=job_type.error_codes)
    text = str(error) if message is None else message
    return _finish(job_type, job, status=JobStatus.FAILED, code=code, message=text, fields=fields)
