"""The long-job lifecycle (quantai.jobs): a job starts once, finishes once, and its failure is classified by type."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from learning.factories import TrainingRunFactory
from learning.models import TrainingRun
from learning.services.runs import TRAINING
from quantai import jobs
from quantai.errors import RuleViolation
from quantai.jobs import JobError, JobStatus, WorkerLost

pytestmark = pytest.mark.django_db


def _running(task_id: str = "t-1") -> TrainingRun:
    queued = TrainingRunFactory(task_id=task_id)
    run, started = jobs.job_start(job_type=TRAINING, job_id=queued.pk, task_id=task_id)
    assert started and run.status == JobStatus.RUNNING and run.progress == 1
    return run


def test_a_job_is_finished_once_and_the_late_finisher_changes_nothing() -> None:
    run = _running()
    late = TrainingRun.objects.get(pk=run.pk)  # a duplicate delivery's copy, read while the job still ran

    assert jobs.job_succeed(job_type=TRAINING, job=run, note="all good", fields={"result": {"versions": {}}})
    assert not jobs.job_fail(job_type=TRAINING, job=late, error=RuntimeError("too late"))

    row = TrainingRun.objects.get(pk=run.pk)
    assert row.status == JobStatus.SUCCEEDED and row.stage == "all good" and row.progress == 100
    assert row.error == "" and row.error_code == "" and row.result == {"versions": {}}
    assert late.status == JobStatus.SUCCEEDED  # the loser is handed the row as it is
    assert not jobs.job_skip(job_type=TRAINING, job=row, reason="again")


def test_progress_of_a_finished_job_is_not_written() -> None:
    run = _running()
    late = TrainingRun.objects.get(pk=run.pk)
    jobs.job_fail(job_type=TRAINING, job=run, error=WorkerLost("gone"))

    assert not jobs.job_progress(job_type=TRAINING, job=late, percent=50, stage="still going")

    row = TrainingRun.objects.get(pk=run.pk)
    assert row.status == JobStatus.FAILED and row.progress == 1 and row.stage == "failed"


def test_a_failure_records_the_code_of_its_type_its_message_and_its_duration() -> None:
    run = _running()

    jobs.job_fail(job_type=TRAINING, job=run, error=WorkerLost("no result within the time limit"))

    row = TrainingRun.objects.get(pk=run.pk)
    assert row.error_code == "worker_lost" and row.error == "no result within the time limit"
    assert row.finished_at is not None and row.duration_seconds is not None and row.duration_seconds >= 0
    assert "failed: no result within the time limit" in row.log


def test_a_queued_job_delivered_twice_starts_once() -> None:
    queued = TrainingRunFactory(task_id="t-1")

    first = jobs.job_start(job_type=TRAINING, job_id=queued.pk, task_id="t-1")
    second = jobs.job_start(job_type=TRAINING, job_id=queued.pk)

    assert first[1] is True and second[1] is False
    assert TrainingRun.objects.get(pk=queued.pk).log.count("started") == 1


def test_a_running_job_restarts_only_when_its_own_task_is_delivered_again() -> None:
    run = _running(task_id="t-1")
    jobs.job_progress(job_type=TRAINING, job=run, percent=40, stage="fold 2")

    assert jobs.job_start(job_type=TRAINING, job_id=run.pk, task_id="t-2")[1] is False
    assert jobs.job_start(job_type=TRAINING, job_id=run.pk)[1] is False
    assert TrainingRun.objects.get(pk=run.pk).progress == 40

    restarted, started = jobs.job_start(job_type=TRAINING, job_id=run.pk, task_id="t-1")
    assert started and restarted.progress == 1 and "restarted after its worker was lost" in restarted.log


def test_a_missing_job_is_reported_as_none() -> None:
    assert jobs.job_start(job_type=TRAINING, job_id=987654) == (None, False)


def test_each_change_is_pushed_once_to_each_recipient_of_the_type(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[int, str, dict[str, Any]]] = []
    monkeypatch.setattr(jobs, "notify_user", lambda user_id, kind, payload: sent.append((user_id, kind, dict(payload))))
    job_type = dataclasses.replace(TRAINING, recipients=lambda job: [7, 3, 7])
    queued = TrainingRunFactory()

    run, _ = jobs.job_start(job_type=job_type, job_id=queued.pk)
    jobs.job_progress(job_type=job_type, job=run, percent=50, stage="half way")
    jobs.job_succeed(job_type=job_type, job=run)

    assert [(uid, p["done"], p["status"]) for uid, _, p in sent] == [
        (3, 1, "running"),
        (7, 1, "running"),
        (3, 50, "running"),
        (7, 50, "running"),
        (3, 100, "finished"),
        (7, 100, "finished"),
    ]
    assert {kind for _, kind, _ in sent} == {"job.progress"}
    assert sent[-1][2] == {"job": "training", "job_id": str(run.pk), "done": 100, "total": 100, "status": "finished"}


def test_the_reporter_writes_each_new_percent_once_and_the_callback_hears_everything() -> None:
    run = _running()
    heard: list[tuple[int, str]] = []
    report = jobs.job_progress_reporter(job_type=TRAINING, job=run, callback=lambda p, s: heard.append((p, s)))

    for percent, stage in [(5, "a"), (5, "b"), (120, "c"), (0, "d")]:
        report(percent, stage)

    assert heard == [(5, "a"), (5, "b"), (120, "c"), (0, "d")]
    row = TrainingRun.objects.get(pk=run.pk)
    assert row.progress == 1 and row.stage == "d"  # clamped to 1-99 while running
    assert [line.split(" ", 2)[2] for line in row.log.splitlines()[1:]] == ["  5% a", " 99% c", "  1% d"]


class _Short(ValueError):
    pass


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (JobError("x", code="custom"), "custom"),
        (WorkerLost("gone"), "worker_lost"),
        (RuleViolation("no"), "rule_violation"),
        (SoftTimeLimitExceeded(), "time_limit"),
        (KeyboardInterrupt(), "interrupted"),
        (ValueError("not enough labelled history"), "internal_error"),  # the message never decides
    ],
)
def test_the_error_code_comes_from_the_type(error: BaseException, code: str) -> None:
    assert jobs.error_code_of(error) == code


def test_a_types_own_codes_come_first_in_order() -> None:
    codes = ((_Short, "insufficient_history"), (ValueError, "invalid_input"))

    assert jobs.error_code_of(_Short("anything"), codes=codes) == "insufficient_history"
    assert jobs.error_code_of(ValueError("history"), codes=codes) == "invalid_input"
    assert jobs.error_code_of(TypeError("history"), codes=codes) == "internal_error"
