"""The Celery task: thin, safe to run twice, routed to the ml queue with long time limits."""

from __future__ import annotations

from typing import Any

import pytest

from learning.models import ModelVersion, RunStatus, RunTrigger, TrainingRun
from learning.tasks import SOFT_TIME_LIMIT, TIME_LIMIT, train_models

pytestmark = pytest.mark.django_db


def test_the_task_runs_a_queued_run_and_running_it_again_changes_nothing(learning_settings: Any, demo_bars: int) -> None:
    run = TrainingRun.objects.create(trigger=RunTrigger.USER, task_id="abc")

    first = train_models.apply(kwargs={"run_id": run.pk}, task_id="abc").get()
    versions = ModelVersion.objects.count()
    second = train_models.apply(kwargs={"run_id": run.pk}, task_id="abc").get()

    assert first["status"] == second["status"] == RunStatus.SUCCEEDED
    assert ModelVersion.objects.count() == versions == 3


def test_the_scheduled_task_creates_its_own_run(learning_settings: Any, demo_bars: int) -> None:
    result = train_models.apply().get()

    run = TrainingRun.objects.get(pk=result["run_id"])
    assert run.trigger == RunTrigger.SCHEDULE and run.triggered_by is None and run.status == RunStatus.SUCCEEDED


def test_a_deleted_run_is_nothing_to_do(db: Any) -> None:
    assert train_models.apply(kwargs={"run_id": 987654}).get() == {"run_id": 987654, "status": "missing"}


def test_a_run_left_running_by_a_lost_worker_restarts_when_its_task_is_redelivered(
    learning_settings: Any,
    demo_bars: int,
) -> None:
    from django.utils import timezone

    run = TrainingRun.objects.create(trigger=RunTrigger.USER, task_id="t-1", status=RunStatus.RUNNING, started_at=timezone.now())

    result = train_models.apply(kwargs={"run_id": run.pk}, task_id="t-1").get()

    run.refresh_from_db()
    assert result["status"] == run.status == RunStatus.SUCCEEDED and "restarted" in run.log


def test_the_task_is_routed_to_the_ml_queue_with_long_time_limits() -> None:
    from quantai.celery import app

    route = app.amqp.router.route({}, "learning.tasks.train_models")
    assert route["queue"].name == "ml"
    assert train_models.soft_time_limit == SOFT_TIME_LIMIT >= 3600
    assert train_models.time_limit == TIME_LIMIT > SOFT_TIME_LIMIT


def test_a_failing_run_is_recorded_and_reported_without_raising(learning_settings: Any) -> None:
    run = TrainingRun.objects.create(trigger=RunTrigger.USER)

    result = train_models.apply(kwargs={"run_id": run.pk}).get()

    run.refresh_from_db()
    assert result["status"] == "failed" and result["run_id"] == run.pk and "no price bars" in result["error"]
    assert run.status == RunStatus.FAILED and "no price bars" in run.error


class _Worker:
    """What celery's worker_ready passes as sender (the consumer): only ``app.amqp.queues.consume_from`` is read."""

    def __init__(self, queues: list[str]) -> None:
        from types import SimpleNamespace

        self.app = SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={q: object() for q in queues})))


def test_an_ml_worker_reports_the_kinds_it_can_train_as_soon_as_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery.signals import worker_ready

    from learning.services import config

    monkeypatch.setitem(config.KIND_LIBRARIES, "lstm", ("quantai_no_such_library",))
    assert config.trainable_kinds_reported() is None

    worker_ready.send(sender=_Worker(["default"]))  # the default queue's worker trains nothing: it says nothing
    assert config.trainable_kinds_reported() is None

    worker_ready.send(sender=_Worker(["default", "ml"]))  # make run's embedded worker, or the ML worker
    reported = config.trainable_kinds_reported()
    assert reported is not None and "rf" in reported["kinds"] and "lstm" not in reported["kinds"]


def test_a_worker_starting_with_the_cache_down_still_starts(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    from learning.services import config
    from learning.tasks import record_trainable_kinds_at_start

    def cache_down() -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(config, "trainable_kinds_record", cache_down)
    record_trainable_kinds_at_start(sender=_Worker(["ml"]))
    assert "not recorded at worker start" in caplog.text
