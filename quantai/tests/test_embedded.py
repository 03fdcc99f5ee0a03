"""The embedded mode of ``make run``: the spool channel layer, its settings, the start-up jobs, and ``serve``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from django.utils import timezone

from accounts.factories import UserFactory
from backtesting.models import BacktestRun
from backtesting.models import RunStatus as BacktestStatus
from learning.factories import ModelVersionFactory
from learning.models import ModelKind, ModelStatus, RunStatus, TrainingRun
from market.models import PriceBar
from quantai import embedded
from quantai.channel_layer import SpoolChannelLayer

ROOT = Path(__file__).resolve().parents[2]


# --- the spool channel layer ---------------------------------------------------------------------


def test_a_message_sent_in_one_process_reaches_members_in_another(tmp_path):
    """Two layers on one folder stand for the worker (sender) and the web server (its browsers' channels)."""

    async def scenario() -> tuple[dict[str, Any], int]:
        worker = SpoolChannelLayer(spool_dir=tmp_path, poll_interval=0.05)
        web = SpoolChannelLayer(spool_dir=tmp_path, poll_interval=0.05)
        channel = await web.new_channel()
        await web.group_add("user.7", channel)  # starts the web layer's reader
        await worker.group_send("user.7", {"type": "job.progress", "payload": {"job": "training", "done": 40}})
        message = await asyncio.wait_for(web.receive(channel), timeout=5)
        await asyncio.sleep(0.2)  # a second delivery of the same file would arrive by now
        extra = web.channels.get(channel)
        await web.close()
        return message, extra.qsize() if extra is not None else 0

    message, duplicates = asyncio.run(scenario())
    assert message == {"type": "job.progress", "payload": {"job": "training", "done": 40}}
    assert duplicates == 0


def test_a_process_hears_its_own_messages_once_and_at_once(tmp_path):
    async def scenario() -> list[dict[str, Any]]:
        layer = SpoolChannelLayer(spool_dir=tmp_path, poll_interval=0.05)
        channel = await layer.new_channel()
        await layer.group_add("broadcast", channel)
        await layer.group_send("broadcast", {"type": "price.update", "payload": {"symbol": "AAPL"}})
        first = await asyncio.wait_for(layer.receive(channel), timeout=1)
        await asyncio.sleep(0.25)  # the reader has looked at the folder (its own file) several times
        queue = layer.channels.get(channel)
        rest = [queue.get_nowait()[1] for _ in range(queue.qsize())] if queue is not None else []
        await layer.close()
        return [first, *rest]

    assert asyncio.run(scenario()) == [{"type": "price.update", "payload": {"symbol": "AAPL"}}]


def test_messages_from_before_the_reader_started_are_not_replayed_and_old_files_are_removed(tmp_path):
    old = f"{time.time_ns() - 10**12:020d}-otherprocess-aaaaaaaa.json"
    (tmp_path / old).write_text(json.dumps({"group": "user.1", "message": {"type": "job.progress", "payload": {}}}))

    async def scenario() -> int:
        layer = SpoolChannelLayer(spool_dir=tmp_path, poll_interval=0.05, retention=60)
        channel = await layer.new_channel()
        await layer.group_add("user.1", channel)
        delivered = await layer.spool_poll()
        await layer.close()
        return delivered

    assert asyncio.run(scenario()) == 0
    assert not (tmp_path / old).exists()


# --- settings ------------------------------------------------------------------------------------


def _settings_in_subprocess(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    code = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        "from quantai.celery import app\n"
        "print(json.dumps({'broker': app.conf.broker_url, 'eager': app.conf.task_always_eager,\n"
        " 'backend': str(app.conf.result_backend), 'folder': app.conf.broker_transport_options.get('data_folder_in'),\n"
        " 'visibility': app.conf.broker_transport_options.get('visibility_timeout'),\n"
        " 'cache': settings.CACHES['default']['BACKEND'], 'layer': settings.CHANNEL_LAYERS['default']['BACKEND']}))\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "QUANTAI_EMBEDDED_WORKER")}
    full = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
        "QUANTAI_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_embedded_mode_shares_broker_results_cache_and_live_updates_through_var(tmp_path):
    conf = _settings_in_subprocess({"QUANTAI_EMBEDDED_WORKER": "1"}, tmp_path)
    assert conf["broker"].startswith("filesystem://")
    assert conf["eager"] is False
    assert conf["backend"].startswith("file://") and str(tmp_path) in conf["backend"]
    assert conf["folder"] == str(tmp_path / "broker" / "queue")
    assert conf["visibility"] == 14400  # the app's own options are kept beside the folders
    assert conf["cache"].endswith("FileBasedCache")
    assert conf["layer"] == "quantai.channel_layer.SpoolChannelLayer"


@pytest.mark.slow
def test_without_the_switch_local_settings_stay_eager_and_in_memory(tmp_path):
    conf = _settings_in_subprocess({}, tmp_path)
    assert conf["broker"] == "memory://" and conf["eager"] is True
    assert conf["cache"].endswith("LocMemCache")
    assert conf["layer"] == "channels.layers.InMemoryChannelLayer"


# --- start-up jobs -------------------------------------------------------------------------------


class _Sent:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def patch(self, monkeypatch: pytest.MonkeyPatch, task: Any) -> None:
        monkeypatch.setattr(task, "apply_async", lambda *a, **kw: self.calls.append((task.name, kw)))


def _bars(day: Any) -> None:
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY"):
        PriceBar.objects.create(
            symbol=symbol, date=day, open=100, high=101, low=99, close=100, adj_close=100, volume=1, source="demo"
        )


@pytest.mark.django_db(transaction=True)
def test_first_start_queues_the_latest_recommendations_and_a_light_training_run(monkeypatch):
    from learning.tasks import train_models
    from recommendations.tasks import generate_recommendations

    sent = _Sent()
    sent.patch(monkeypatch, train_models)
    sent.patch(monkeypatch, generate_recommendations)
    day = timezone.now().date()
    _bars(day)

    queued = embedded.first_start_jobs()

    run = TrainingRun.objects.get()
    assert queued == {"recommendations": day.isoformat(), "training_run": run.pk}
    assert run.status == RunStatus.QUEUED and run.kinds == ["rf", "xgb"]
    names = [name for name, _ in sent.calls]
    assert names == ["recommendations.tasks.generate_recommendations", "learning.tasks.train_models"]
    generate_kwargs, train_kwargs = sent.calls[0][1], sent.calls[1][1]
    assert generate_kwargs["kwargs"] == {"day": day.isoformat()}  # an argument: never skipped as a periodic duplicate
    assert train_kwargs["kwargs"] == {"run_id": run.pk} and train_kwargs["task_id"] == run.task_id
    # Once the model exists the day is generated again (the link runs after training).
    assert train_kwargs["link"].task == "recommendations.tasks.generate_recommendations"
    assert train_kwargs["link"].kwargs == {"day": day.isoformat()}


@pytest.mark.django_db(transaction=True)
def test_first_start_trains_nothing_while_a_model_is_active(monkeypatch):
    from learning.tasks import train_models
    from recommendations.tasks import generate_recommendations

    sent = _Sent()
    sent.patch(monkeypatch, train_models)
    sent.patch(monkeypatch, generate_recommendations)
    ModelVersionFactory(kind=ModelKind.ENSEMBLE, status=ModelStatus.ACTIVE)

    queued = embedded.first_start_jobs()

    assert queued == {"recommendations": None, "training_run": None}  # no prices either: nothing to generate
    assert sent.calls == [] and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_runs_a_stopped_worker_left_running_are_marked_failed_and_queued_ones_kept():
    user = UserFactory()
    running = TrainingRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now())
    queued = TrainingRun.objects.create(status=RunStatus.QUEUED)
    backtest = BacktestRun.objects.create(owner=user, system="buy_and_hold", status=BacktestStatus.RUNNING)

    assert embedded.orphaned_runs_fail() == {"training_runs": 1, "backtests": 1}

    running.refresh_from_db()
    queued.refresh_from_db()
    backtest.refresh_from_db()
    assert running.status == RunStatus.FAILED and "server stopped" in running.error
    assert running.error_code == backtest.error_code == "server_stopped"  # classified by type, as every job failure
    assert queued.status == RunStatus.QUEUED
    assert backtest.status == BacktestStatus.FAILED and backtest.finished_at is not None
    assert backtest.stage == "failed: server stopped"


# --- serve: worker and web server started together, stopped together --------------------------


def _free_port() -> int:
    from quantai.tests.services import free_port

    return int(free_port())


@pytest.mark.slow
@pytest.mark.celery_worker
def test_serve_runs_tasks_in_its_worker_and_one_interrupt_stops_everything(tmp_path):
    """The real thing, without Redis: ``serve`` answers HTTP, its worker runs a task sent from another process
    over the file-system broker (result in the file store), and one SIGINT (Ctrl-C) ends every process."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
        "QUANTAI_EMBEDDED_WORKER": "1",
        "QUANTAI_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    children: list[psutil.Process] = []
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        # The HTTP server answers before the worker has forked its pool: wait for the processes, not a moment.
        deadline = time.monotonic() + 60
        children = psutil.Process(server.pid).children(recursive=True)
        while len(children) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
            children = psutil.Process(server.pid).children(recursive=True)
        assert len(children) >= 3, children  # uvicorn, the worker, its pool process (and beat)

        ping = (
            "import django; django.setup()\n"
            "from quantai.celery import ping\n"
            "print(ping.apply_async(kwargs={'value': 'embedded'}).get(timeout=60)['pong'])\n"
        )
        answer = subprocess.run([sys.executable, "-c", ping], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert answer.stdout.strip().splitlines()[-1] == "embedded", answer.stderr[-2000:]
        children = list({p.pid: p for p in [*children, *psutil.Process(server.pid).children(recursive=True)]}.values())

        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], f"still running after Ctrl-C: {[p.pid for p in alive]}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        for child in children:
            if child.is_running():
                child.kill()
        log.close()


def test_the_system_page_counts_the_file_brokers_waiting_messages(tmp_path):
    from types import SimpleNamespace

    from quantai.monitoring import queue_lengths

    for name in ("1_a.ml.msg", "2_b.ml.msg", "3_c.default.msg", "4_d.other.msg"):
        (tmp_path / name).write_text("{}")
    conf = SimpleNamespace(
        task_always_eager=False, broker_url="filesystem://localhost//", broker_transport_options={"data_folder_in": str(tmp_path)}
    )
    assert queue_lengths(celery_app=SimpleNamespace(conf=conf)) == {"mode": "filesystem", "queues": {"default": 1, "ml": 2}}
