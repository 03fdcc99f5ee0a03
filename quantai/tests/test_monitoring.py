"""Task and queue health (:mod:`quantai.monitoring`): every task that runs leaves a heartbeat, every beat entry is
listed, and queue lengths are read from the broker (unknown when it does not answer)."""

from __future__ import annotations

import pytest

from quantai.monitoring import HEARTBEAT_KEY, periodic_task_runs

pytestmark = [pytest.mark.django_db]


# --- Heartbeats ---------------------------------------------------------------------------------


def test_an_eager_task_leaves_a_heartbeat():
    from django.core.cache import cache

    from accounts.tasks import cleanup_security_records

    before = {row["task"]: row["last_run"] for row in periodic_task_runs()}
    assert before["accounts.tasks.cleanup_security_records"] is None

    cleanup_security_records.apply_async(headers={"celery_beat_task": True})  # as beat sends it

    beat = cache.get(HEARTBEAT_KEY.format(name="accounts.tasks.cleanup_security_records"))
    assert beat is not None and beat["state"] == "SUCCESS"
    after = {row["task"]: row for row in periodic_task_runs()}
    assert after["accounts.tasks.cleanup_security_records"]["last_run"] is not None
    assert after["accounts.tasks.cleanup_security_records"]["state"] == "SUCCESS"
    assert after["accounts.tasks.cleanup_security_records"]["on_demand_run"] is None
    assert after["accounts.tasks.security_alerts_check"]["last_run"] is None


def test_a_run_on_demand_is_shown_beside_the_schedules_never_as_it():
    """ "Train now" or make run's first start must not pass for the nightly entry's run, nor hide a stopped beat."""
    from accounts.tasks import cleanup_security_records

    cleanup_security_records.delay()  # on demand: no beat header
    row = {r["task"]: r for r in periodic_task_runs()}["accounts.tasks.cleanup_security_records"]
    assert row["last_run"] is None and row["state"] is None
    assert row["on_demand_run"] is not None and row["on_demand_state"] == "SUCCESS"

    cleanup_security_records.apply_async(headers={"celery_beat_task": True})  # then the schedule's own run
    row = {r["task"]: r for r in periodic_task_runs()}["accounts.tasks.cleanup_security_records"]
    assert row["last_run"] is not None and row["on_demand_run"] is None  # nothing newer on demand

    cleanup_security_records.delay()
    row = {r["task"]: r for r in periodic_task_runs()}["accounts.tasks.cleanup_security_records"]
    assert row["on_demand_run"] > row["last_run"]


def test_a_worker_recognises_beats_runs_by_the_header_celery_adds():
    from types import SimpleNamespace

    from quantai.monitoring import sent_by_beat

    # A worker exposes the message's custom headers as request attributes; an eager run keeps them in ``headers``.
    assert sent_by_beat(SimpleNamespace(request=SimpleNamespace(celery_beat_task=True, headers=None)))
    assert sent_by_beat(SimpleNamespace(request=SimpleNamespace(headers={"celery_beat_task": True})))
    assert not sent_by_beat(SimpleNamespace(request=SimpleNamespace(headers=None)))
    assert not sent_by_beat(SimpleNamespace())


def test_every_beat_entry_is_listed():
    from quantai.celery import app

    assert {row["entry"] for row in periodic_task_runs()} == set(app.conf.beat_schedule)


# --- Queues -------------------------------------------------------------------------------------


@pytest.mark.redis
def test_queue_lengths_are_read_from_a_redis_broker(redis_url):
    import uuid

    import redis
    from celery import Celery

    from quantai.monitoring import queue_lengths

    names = (f"test-default-{uuid.uuid4().hex}", f"test-ml-{uuid.uuid4().hex}")
    client = redis.Redis.from_url(redis_url)
    try:
        client.rpush(names[0], "a", "b", "c")
        client.rpush(names[1], "x")
        measured = queue_lengths(celery_app=Celery("probe", broker=redis_url, set_as_current=False), names=names)
    finally:
        client.delete(*names)
    assert measured == {"mode": "redis", "queues": {names[0]: 3, names[1]: 1}}


def test_an_unreachable_broker_gives_unknown_lengths():
    from celery import Celery

    from quantai.monitoring import queue_lengths

    # Port 9 (discard) on this machine: nothing listens, so the connection is refused at once.
    measured = queue_lengths(celery_app=Celery("probe", broker="redis://127.0.0.1:9/0", set_as_current=False))
    assert measured == {"mode": "unavailable", "queues": {"default": None, "ml": None}}


def test_schedules_are_described_for_people():
    from celery.schedules import crontab

    from quantai.monitoring import _describe_schedule

    assert _describe_schedule(15 * 60) == "every 15 min"
    assert _describe_schedule(3600) == "every 1 h"
    assert _describe_schedule(crontab(hour=21, minute=45, day_of_week="mon-fri")) == "cron 45 21 * * mon-fri"


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_leaves_a_heartbeat_in_the_shared_cache(redis_url, tmp_path):
    """The production case: the worker process writes the heartbeat where the web process reads it."""
    import os
    import pickle
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path
    from uuid import uuid4

    import redis
    from celery import Celery

    from quantai.tests.live import QUIET, wait_until_worker_answers

    run = uuid4().hex[:12]
    queue = f"heartbeat-test-{run}"
    nodename = f"{queue}@{socket.gethostname()}"
    # Test settings prefix cache keys with this variable, so the worker's keys are this test's alone.
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "PYTEST_XDIST_WORKER": run,
        "PYTHONUNBUFFERED": "1",
    }
    key = f"quantai-test-{run}:1:" + HEARTBEAT_KEY.format(name="quantai.ping")
    store = redis.Redis.from_url(redis_url)
    client = Celery("heartbeat-test", broker=redis_url, backend=redis_url, set_as_current=False)
    client.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"])
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "quantai", "worker", "--pool", "solo", "-Q", queue, "-n", nodename, *QUIET]
    with log.open("wb") as log_file:
        worker = subprocess.Popen(
            command, cwd=Path(__file__).resolve().parents[2], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_until_worker_answers(client, nodename, worker, log)
            result = client.send_task("quantai.ping", args=["beat"], queue=queue)
            result.get(timeout=30)
            result.forget()
            # task_postrun fires after the result is stored: give it a moment.
            deadline = time.monotonic() + 10
            raw = store.get(key)
            while raw is None and time.monotonic() < deadline:
                time.sleep(0.1)
                raw = store.get(key)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
            client.close()
            store.delete(key)
    assert raw is not None, log.read_text(errors="replace")[-3000:]
    beat = pickle.loads(raw)  # noqa: S301 - our own test key, written by django-redis's pickle serializer
    assert beat["state"] == "SUCCESS"
    assert beat["task_id"] == result.id
