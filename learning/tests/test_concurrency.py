"""Concurrency on MariaDB/MySQL: row locks keep one active version per kind and one training run at a time, and a
run is finished once however many finish it together.

Each thread has its own database connection and closes it when done. Run with
``DATABASE_URL=mysql://root@127.0.0.1:3306/qa_learning``; skipped on SQLite, whose database-wide write
lock would make these tests prove nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from learning.factories import ModelVersionFactory
from learning.models import ModelStatus, ModelVersion, RunStatus, TrainingRun
from learning.services.runs import TRAINING, training_run_start
from learning.services.versions import model_version_activate
from quantai.jobs import WorkerLost, job_fail, job_succeed
from quantai.tests.concurrency import run_at_once

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


def test_simultaneous_activations_leave_exactly_one_active_version(settings: Any, tmp_path: Path) -> None:
    settings.MODELS_DIR = tmp_path
    (tmp_path / "xgb").mkdir()
    versions = []
    for i in range(6):
        body = f"model {i}".encode()
        (tmp_path / "xgb" / f"m{i}.json").write_bytes(body)
        versions.append(
            ModelVersionFactory(kind="xgb", artifact_path=f"xgb/m{i}.json", artifact_sha256=hashlib.sha256(body).hexdigest())
        )

    results = run_at_once(len(versions), lambda i: model_version_activate(version_id=versions[i].pk))

    assert [r for r in results if r[0] == "error"] == []
    assert ModelVersion.objects.filter(kind="xgb", status=ModelStatus.ACTIVE).count() == 1
    assert ModelVersion.objects.filter(kind="xgb", status=ModelStatus.RETIRED).count() == len(versions) - 1


def test_simultaneous_starts_let_exactly_one_run_work() -> None:
    queued = [TrainingRun.objects.create() for _ in range(5)]

    results = run_at_once(len(queued), lambda i: training_run_start(run_id=queued[i].pk)[1])

    assert [r for r in results if r[0] == "error"] == []
    assert sorted(r[1] for r in results) == [False] * 4 + [True]
    assert TrainingRun.objects.filter(status=RunStatus.RUNNING).count() == 1
    assert TrainingRun.objects.filter(status=RunStatus.SKIPPED).count() == 4


def test_simultaneous_finishes_leave_exactly_one_result() -> None:
    queued = TrainingRun.objects.create()
    run, started = training_run_start(run_id=queued.pk)
    assert started
    copies = [TrainingRun.objects.get(pk=run.pk) for _ in range(6)]  # each delivery's own copy of the running row

    def finish(i: int) -> bool:
        if i % 2:
            return job_fail(job_type=TRAINING, job=copies[i], error=WorkerLost(f"finisher {i}"))
        return job_succeed(job_type=TRAINING, job=copies[i], note=f"finisher {i}", fields={"result": {"by": i}})

    results = run_at_once(len(copies), finish)

    assert [r for r in results if r[0] == "error"] == []
    assert sorted(r[1] for r in results) == [False] * 5 + [True]
    row = TrainingRun.objects.get(pk=run.pk)
    winner = int(row.stage.rsplit(" ", 1)[1]) if row.status == RunStatus.SUCCEEDED else int(row.error.rsplit(" ", 1)[1])
    assert row.status == (RunStatus.FAILED if winner % 2 else RunStatus.SUCCEEDED)
    assert row.log.count("finisher") == 1
